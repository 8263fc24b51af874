"""Every figure of the app, with one set of twin names and colours. Each takes numbers that nn_core
or app_support.series computed and only draws them. No maths, no streamlit.

Two kinds:
- Live charts (the Train page's, redrawn every second or two while a run trains) and the run
  history (drawn on every run of the Train page, twice per training run) are plain plotly figure
  dicts, handed to st.plotly_chart as `ready(...)`: measured here, a plotly.express line chart
  costs ~60 ms to build and serialise against ~5 ms for the same figure as a dict, and that time
  is the server's, per student.
- Everything else, drawn when a learner asks for it, uses plotly.express.

Digits are drawn as MNIST stores them: light ink (255) on a black background (0), like the canvas.
"""
from __future__ import annotations

import functools
import math

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
from _plotly_utils.utils import convert_to_base64
from plotly.colors import get_colorscale

from nn_core.twins import TWIN_NAMES

from .series import MAX_POINTS, TwinGap, extremes

TWIN_COLOURS = {"numpy": "#1d4ed8", "torch": "#ea580c"}    # blue and orange: colour-blind safe
TWIN_LINE_WIDTHS = {"numpy": 4.0, "torch": 1.8}            # thick under thin: both stay visible
COLOUR_OF_TWIN_NAME = {TWIN_NAMES[impl]: colour for impl, colour in TWIN_COLOURS.items()}  # for px
LAYER_DASHES = ("solid", "dash", "dot", "dashdot", "longdash", "longdashdot")
CHART_HEIGHT = 330
FONT_SIZE = 16             # readable on a classroom projector
MAX_WEIGHT_UNITS = 16
DIGITS = [str(d) for d in range(10)]


# ---- pictures and bars (plotly.express, drawn once per page run) ----------------------------
def _bare(fig, height):
    """No axes, no colour bar, tight margins: for pictures."""
    fig.update_layout(height=height, margin=dict(l=0, r=0, t=30, b=0), coloraxis_showscale=False)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return fig


def digit_figure(digit: np.ndarray, title: str = "", height: int = 260):
    """One 28x28 picture, uint8 or float (28, 28)."""
    fig = px.imshow(np.asarray(digit).reshape(28, 28), color_continuous_scale="gray", zmin=0, zmax=255,
                    title=title)
    fig.update_traces(hovertemplate="row %{y}, column %{x}: %{z}<extra></extra>")
    return _bare(fig, height)


def sample_grid_figure(grid: np.ndarray, per_class: int, gap: int = 2):
    """The stitched grid from nn_core.images.sample_grid: one row of examples per digit."""
    fig = px.imshow(grid, binary_string=True)        # sent as one PNG: small and fast
    cell = 28 + gap
    fig.update_layout(height=10 * cell * 2 + 40, margin=dict(l=30, r=0, t=10, b=0))
    fig.update_xaxes(visible=False)
    fig.update_yaxes(tickmode="array", tickvals=[d * cell + 14 for d in range(10)], ticktext=DIGITS,
                     title=None, showgrid=False)
    fig.update_traces(hoverinfo="skip", hovertemplate=None)
    return fig


def class_counts_figure(counts: np.ndarray):
    """Bar per digit: how many examples of it the dataset has."""
    frame = pd.DataFrame({"digit": DIGITS, "examples": counts})
    fig = px.bar(frame, x="digit", y="examples", text="examples")
    fig.update_layout(height=300, margin=dict(l=0, r=0, t=10, b=0))
    fig.update_xaxes(type="category")
    return fig


def mean_digits_figure(means: np.ndarray):
    """The average picture of each digit, (10, 28, 28), in two rows of five."""
    fig = px.imshow(means, facet_col=0, facet_col_wrap=5, color_continuous_scale="gray",
                    zmin=0, zmax=255, facet_row_spacing=0.1, facet_col_spacing=0.02)
    fig.for_each_annotation(lambda a: a.update(text=f"digit {a.text.split('=')[-1]}"))
    fig.update_traces(hovertemplate="row %{y}, column %{x}: mean %{z:.0f}<extra></extra>")
    return _bare(fig, 240)


def activation_figure(name: str, values: np.ndarray):
    """One layer's activations for one image, as a one-row heat map (one cell per unit)."""
    values = np.asarray(values, dtype=np.float64).reshape(1, -1)
    fig = px.imshow(values, color_continuous_scale="viridis", aspect="auto", title=name)
    fig.update_traces(hovertemplate="unit %{x}: %{z:.4f}<extra></extra>")
    fig.update_layout(height=120, margin=dict(l=0, r=0, t=30, b=0))
    fig.update_yaxes(visible=False)
    fig.update_xaxes(title=None)
    return fig


def probabilities_figure(probabilities: dict):
    """Grouped bars: for each twin ("NumPy" / "PyTorch") its 10 class probabilities."""
    frame = pd.DataFrame([{"digit": str(d), "twin": twin, "probability": float(p)}
                          for twin, probs in probabilities.items() for d, p in enumerate(np.ravel(probs))])
    fig = px.bar(frame, x="digit", y="probability", color="twin", barmode="group",
                 color_discrete_map=COLOUR_OF_TWIN_NAME, range_y=[0, 1])
    fig.update_layout(height=300, margin=dict(l=0, r=0, t=10, b=0), legend_title_text=None)
    fig.update_xaxes(type="category")
    return fig


def histograms_figure(frame: pd.DataFrame, title: str):
    """Pre-binned histograms, one panel per layer. frame: columns layer, value (bin centre), count."""
    fig = px.bar(frame, x="value", y="count", facet_col="layer", title=title)
    fig.update_xaxes(matches=None, title=None)
    fig.update_yaxes(matches=None)
    fig.update_traces(marker_line_width=0)
    fig.update_layout(height=280, bargap=0, margin=dict(l=0, r=0, t=50, b=0))
    fig.for_each_annotation(lambda a: a.update(text=a.text.split("=")[-1]))
    return fig


def confusion_figure(matrix: np.ndarray):
    """Counts (10, 10): rows are the true digit, columns the predicted one."""
    fig = px.imshow(matrix, x=DIGITS, y=DIGITS, text_auto=True, color_continuous_scale="Blues",
                    labels=dict(x="predicted digit", y="true digit", color="count"))
    fig.update_layout(height=460, margin=dict(l=0, r=0, t=10, b=0), coloraxis_showscale=False)
    fig.update_xaxes(side="top", type="category")
    fig.update_yaxes(type="category")
    return fig


def gallery_figure(images: np.ndarray, titles: list[str], per_row: int = 8):
    """Small pictures with a title each. images uint8 (k, 784)."""
    stack = np.asarray(images).reshape(-1, 28, 28)
    fig = px.imshow(stack, facet_col=0, facet_col_wrap=per_row, color_continuous_scale="gray",
                    zmin=0, zmax=255, facet_row_spacing=0.06, facet_col_spacing=0.01)
    fig.for_each_annotation(lambda a: a.update(text=titles[int(a.text.split("=")[-1])], font_size=11))
    rows = -(-len(stack) // per_row)
    fig.update_traces(hovertemplate="%{z}<extra></extra>")
    return _bare(fig, 130 * rows + 20)


def throughput_figure(rows: list[dict]):
    """The Speed page's grouped bars of median samples/s per batch size, one colour per twin and
    device (rows: nn_core.bench.measure_throughput's)."""
    frame = pd.DataFrame([{"batch size": str(r["batch_size"]),
                           "twin": f"{TWIN_NAMES[r['impl']]} ({r['device']})",
                           "samples/s": r["samples_per_s_median"]} for r in rows])
    fig = px.bar(frame, x="batch size", y="samples/s", color="twin", barmode="group",
                 text_auto=".3s")
    fig.update_layout(height=360, margin=dict(l=0, r=0, t=10, b=0), legend_title_text=None)
    fig.update_xaxes(type="category")
    return fig


def map_figure(image: np.ndarray, title: str, signed: bool = True, height: int = 230):
    """One 28x28 map: signed values (weights, contributions, gradients) blue > 0, red < 0, white 0,
    on a symmetric scale; or, signed=False, ink on black like the digit."""
    image = np.asarray(image, dtype=np.float64).reshape(28, 28)
    if not signed:
        return digit_figure(image * 255, title, height)
    limit = float(np.abs(image).max()) or 1.0
    fig = px.imshow(image, color_continuous_scale="RdBu", zmin=-limit, zmax=limit, title=title)
    fig.update_traces(hovertemplate="row %{y}, column %{x}: %{z:.4g}<extra></extra>")
    return _bare(fig, height)


# ---- live figures: plotly figure specs as plain dicts ------------------------------------------
# A dict in plotly's own JSON layout ({"data": [traces], "layout": {...}}) is what st.plotly_chart
# sends to the browser anyway; building it directly skips plotly's per-property checks, which cost
# ~25 ms per chart with go.Figure / update_layout against ~5 ms this way.
class ReadyFigure(go.Figure):
    """A figure dict built below, handed to st.plotly_chart as it is.

    st.plotly_chart turns a dict into a go.Figure to check every property (~25 ms for a chart of
    four 1,000-point traces, measured: most of a live redraw's cost, and a busy server pays it
    for every student twice a second); a go.Figure it takes as checked and only asks for its
    dict. These dicts are plotly's own JSON layout (the tests check each kind with plotly's
    validation), so the page wraps them in this. to_dict() turns NumPy arrays into plotly's
    compact binary form, as go.Figure.to_dict() does."""

    def __init__(self, spec: dict):
        super().__init__()
        self._spec = spec

    def to_dict(self) -> dict:
        convert_to_base64(self._spec)        # in place: arrays -> {"dtype": "f4", "bdata": ...}
        self._spec["layout"].setdefault("template", _default_template())   # as go.Figure adds it
        return self._spec


@functools.cache
def _default_template() -> dict:
    """plotly's default template as a dict: what go.Figure puts in every figure's layout (Streamlit's
    chart theme is then laid over it in the browser)."""
    return go.Figure().to_dict()["layout"]["template"]


def ready(spec: dict) -> ReadyFigure:
    return ReadyFigure(spec)


def _xy(x: list, y: list, max_points: int = MAX_POINTS):
    """x, y cut to at most max_points by extremes(), as compact NumPy arrays (plotly sends them as
    binary, not as JSON text; steps as int32 and values as float32: 8 bytes a point)."""
    n = min(len(x), len(y))
    y = np.asarray(y[:n], dtype=np.float64)
    keep = extremes(y, max_points)
    return np.asarray(x[:n]).astype(np.int32, copy=False)[keep], y[keep].astype(np.float32)


def _axis(title: str) -> dict:
    """An axis with fonts big enough for a projector (Streamlit's chart theme draws them small)."""
    return {"title": {"text": title, "font": {"size": FONT_SIZE}}, "tickfont": {"size": FONT_SIZE - 2}}


def line_chart(title: str, y_title: str, traces: list, *, x_title: str = "step", log_y: bool = False) -> dict:
    """A figure dict in the charts' common style: title, axes, legend above at the right."""
    y_axis = _axis(y_title)
    if log_y:
        y_axis.update(type="log", exponentformat="power")
    # plotly refuses a figure without traces: before the first step, draw an empty one.
    traces = traces or [{"type": "scatter", "x": [], "y": [], "showlegend": False}]
    return {"data": traces, "layout": {
        "title": {"text": title, "font": {"size": FONT_SIZE + 2}}, "height": CHART_HEIGHT,
        "font": {"size": FONT_SIZE}, "margin": {"l": 10, "r": 10, "t": 60, "b": 10},
        "legend": {"orientation": "h", "x": 1, "xanchor": "right", "y": 1.0, "yanchor": "bottom",
                   "font": {"size": FONT_SIZE - 2}},
        "xaxis": _axis(x_title),
        "yaxis": y_axis, "uirevision": "keep",            # keep the user's zoom across redraws
    }}


def _line(impl: str, x: list, y: list, name: str, dash: str = "solid",
          max_points: int = MAX_POINTS) -> dict:
    x, y = _xy(x, y, max_points)
    return {"type": "scatter", "mode": "lines", "x": x, "y": y, "name": name, "legendgroup": impl,
            "line": {"color": TWIN_COLOURS[impl], "width": TWIN_LINE_WIDTHS[impl], "dash": dash}}


def _points(impl: str, x: list, y: list, name: str) -> dict:
    x, y = _xy(x, y)
    return {"type": "scatter", "mode": "markers+lines", "x": x, "y": y, "name": name,
            "legendgroup": impl, "line": {"color": TWIN_COLOURS[impl], "width": 1, "dash": "dot"},
            "marker": {"color": TWIN_COLOURS[impl], "size": 9 if impl == "numpy" else 5}}


def loss_figure(series: dict) -> dict:
    """Batch loss per step (lines) and validation loss (points), one colour per twin."""
    traces = [_line(impl, s.step, s.loss, f"{TWIN_NAMES[impl]} batch") for impl, s in series.items()]
    traces += [_points(impl, s.val_step, s.val_loss, f"{TWIN_NAMES[impl]} val")
               for impl, s in series.items()]
    return line_chart("Loss (cross-entropy)", "loss", traces)


def accuracy_figure(series: dict) -> dict:
    """Running training accuracy of the epoch (lines) and validation accuracy (points)."""
    traces = [_line(impl, s.step, s.train_acc, f"{TWIN_NAMES[impl]} train")
              for impl, s in series.items()]
    traces += [_points(impl, s.val_step, s.val_acc, f"{TWIN_NAMES[impl]} val")
               for impl, s in series.items()]
    fig = line_chart("Accuracy", "accuracy", traces)
    fig["layout"]["yaxis"].update(range=[0, 1.02], tickformat=".0%")
    return fig


# Up to six gradient lines share one small chart (a layer per dash style, both twins): 500 points
# each show it as well as 1,000 and halve what every redraw sends.
GRAD_POINTS = 500


def grad_norm_figure(series: dict) -> dict:
    """Per-layer gradient norm (÷ sqrt(parameters in the layer)); one dash style per layer."""
    traces = []
    for impl, s in series.items():
        per_layer = list(zip(*s.grad_norm_scaled))     # (steps, layers) -> one list per layer
        for layer, values in enumerate(per_layer):
            traces.append(_line(impl, s.grad_step, list(values), f"{TWIN_NAMES[impl]} layer {layer + 1}",
                                dash=LAYER_DASHES[layer % len(LAYER_DASHES)], max_points=GRAD_POINTS))
    return line_chart("Gradient size per layer", "RMS gradient", traces, log_y=True)


def training_speed_figure(series: dict) -> dict:
    """Samples per second of each twin, timed over its own steps only."""
    traces = [_line(impl, s.step, s.samples_per_s, TWIN_NAMES[impl]) for impl, s in series.items()]
    fig = line_chart("Training speed", "samples / s", traces)
    fig["layout"]["yaxis"]["rangemode"] = "tozero"
    return fig


def gap_figure(gap: TwinGap) -> dict:
    """The twin gap on a log axis (steps where the losses are exactly equal cannot be drawn there)."""
    shown = gap.gap > 0
    x, y = _xy(gap.step[shown], gap.gap[shown])
    trace = {"type": "scatter", "mode": "lines", "x": x, "y": y, "name": "gap",
             "line": {"color": "#7c3aed", "width": 2}}
    fig = line_chart("Twin gap: |loss NumPy − loss PyTorch|", "absolute difference", [trace], log_y=True)
    fig["layout"]["showlegend"] = False
    return fig


# ---- first-layer weights (every ~2 s) ---------------------------------------------------------
def first_layer_images(W: np.ndarray, max_units: int = MAX_WEIGHT_UNITS) -> np.ndarray:
    """W (784, units) -> (k, 28, 28) float32: what each of the first k units 'looks for'."""
    k = min(max_units, W.shape[1])
    return np.ascontiguousarray(W[:, :k].T.reshape(k, 28, 28), dtype=np.float32)


# How tiles are numbered: hidden units from 1 (as layers are), output units by the digit they score.
FIRST_TILE_NUMBER = {"unit": 1, "digit": 0}


def tiles_shown_text(W: np.ndarray, unit_label: str = "unit") -> str:
    """'Shown: the first 16 of 128 units.' or 'All 10 digits are shown.'"""
    n = W.shape[1]
    if n <= MAX_WEIGHT_UNITS:
        return f"All {n} {unit_label}{'s' * (n != 1)} {'are' if n != 1 else 'is'} shown."
    return f"Shown: the first {MAX_WEIGHT_UNITS} of {n} {unit_label}s."


def weights_figure(W: np.ndarray, unit_label: str = "unit", columns: int = 8) -> dict:
    """The first units' weights as 28x28 images side by side (one heatmap, with gaps between the
    tiles and a label above each): blue = positive weight, red = negative, white = 0. Tiles are
    labelled 'unit 1', 'unit 2', ... or, with no hidden layer, 'digit 0' ... 'digit 9'."""
    images = first_layer_images(W)
    first = FIRST_TILE_NUMBER[unit_label]
    k = len(images)
    columns = min(columns, k)
    rows = math.ceil(k / columns)
    col_pitch, row_pitch = 29, 35               # 28 pixels + a gap (taller: room for the label)
    mosaic = np.full((rows * row_pitch, columns * col_pitch - 1), np.nan, dtype=np.float32)
    unit = np.zeros(mosaic.shape, dtype=np.int8)           # which unit each pixel belongs to
    labels = []
    for i, image in enumerate(images):
        top, left = row_pitch * (i // columns) + (row_pitch - 28), col_pitch * (i % columns)
        mosaic[top:top + 28, left:left + 28] = image
        unit[top:top + 28, left:left + 28] = i + first
        labels.append({"x": left + 13.5, "y": top - 0.5, "text": f"{unit_label} {i + first}",
                       "showarrow": False, "yanchor": "bottom", "font": {"size": FONT_SIZE - 3}})
    finite = np.abs(images[np.isfinite(images)])
    limit = float(finite.max()) if finite.size and finite.max() > 0 else 1.0
    heatmap = {"type": "heatmap", "z": mosaic, "customdata": unit, "colorscale": get_colorscale("RdBu"),
               "zmin": -limit, "zmid": 0, "zmax": limit, "hoverongaps": False,
               "colorbar": {"title": {"text": "weight"}, "thickness": 14},
               "hovertemplate": f"{unit_label} %{{customdata}}<br>weight %{{z:.3f}}<extra></extra>"}
    hidden_axis = {"showticklabels": False, "showgrid": False, "zeroline": False}
    return {"data": [heatmap], "layout": {
        "height": 40 + 125 * rows, "margin": {"l": 10, "r": 10, "t": 10, "b": 10},
        "font": {"size": FONT_SIZE}, "annotations": labels, "uirevision": "keep",
        "xaxis": {**hidden_axis, "constrain": "domain"},
        "yaxis": {**hidden_axis, "autorange": "reversed", "scaleanchor": "x", "constrain": "domain",
                  "constraintoward": "top"},
    }}


# ---- run history (drawn on every run of the Train page: a plain figure dict too) ------------------
RUN_COLOURS = px.colors.qualitative.Plotly            # one colour per run, in the order of the runs
TWIN_DASHES = {TWIN_NAMES["numpy"]: "solid", TWIN_NAMES["torch"]: "dash"}


def history_figure(frame: pd.DataFrame, curve: str) -> dict:
    """One curve ('batch loss' or 'validation accuracy') of several runs (series.history_frame):
    colour = run, dash = twin; x in epochs."""
    data = frame[frame["curve"] == curve]
    accuracy = curve == "validation accuracy"
    colours = {run: RUN_COLOURS[i % len(RUN_COLOURS)] for i, run in enumerate(dict.fromkeys(data["run"]))}
    traces = []
    for (run, twin), part in data.groupby(["run", "twin"], sort=False):
        colour = colours[run]
        traces.append({"type": "scatter", "mode": "lines+markers" if accuracy else "lines",
                       "x": part["epoch"].to_numpy(), "y": part["value"].to_numpy(),
                       "name": f"{run}, {twin}", "legendgroup": run, "opacity": 1.0 if accuracy else 0.7,
                       "line": {"color": colour, "dash": TWIN_DASHES[twin]}, "marker": {"color": colour}})
    fig = line_chart(f"{curve.capitalize()} of the chosen runs", curve, traces, x_title="epoch")
    # Below the chart: two entries per run would run into the title above it.
    fig["layout"]["legend"].update(x=0, xanchor="left", y=-0.25, yanchor="top")
    fig["layout"]["height"] = CHART_HEIGHT + 60
    if accuracy:
        fig["layout"]["yaxis"]["tickformat"] = ".0%"
    return fig

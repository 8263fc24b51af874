"""Chart data for the Train page: run records -> plain lists -> plotly figures. No maths, no streamlit.

The page keeps one `TwinSeries` per twin of each run in st.session_state and calls `update` on
every redraw, so only the records that arrived since the last redraw are converted. Figures are
rebuilt from those lists each time and never stored.

The live charts, redrawn twice a second while a run trains, are plain plotly figure dicts: that
time is taken from the training threads, and measured here a plotly.express line chart costs
~60 ms to build and serialise against ~5 ms for the same figure as a dict. The run history, drawn
once per page run, uses plotly.express.
"""

import functools
import math
import weakref
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
from plotly.colors import get_colorscale
from _plotly_utils.utils import convert_to_base64

from nn_core.images import never_inked_pixels

TWIN_NAMES = {"numpy": "NumPy", "torch": "PyTorch"}
TWIN_COLORS = {"numpy": "#1d4ed8", "torch": "#ea580c"}      # blue and orange: colour-blind safe
TWIN_LINE_WIDTHS = {"numpy": 4.0, "torch": 1.8}            # thick under thin: both stay visible
LAYER_DASHES = ("solid", "dash", "dot", "dashdot", "longdash", "longdashdot")
MAX_POINTS = 1000          # per trace; longer curves are thinned to this many points
CHART_HEIGHT = 330
FONT_SIZE = 16             # readable on a classroom projector
MAX_WEIGHT_UNITS = 16


# ---- records -> plain lists -------------------------------------------------------------------
@dataclass
class TwinSeries:
    """One twin's records as the plain lists the charts read, filled in incrementally."""

    impl: str
    n_records: int = 0                 # records of the run already copied into these lists
    step: list = field(default_factory=list)
    epoch: list = field(default_factory=list)
    samples_seen: list = field(default_factory=list)
    loss: list = field(default_factory=list)
    train_acc: list = field(default_factory=list)
    samples_per_s: list = field(default_factory=list)
    val_step: list = field(default_factory=list)       # validation is measured on some steps only
    val_samples: list = field(default_factory=list)
    val_loss: list = field(default_factory=list)
    val_acc: list = field(default_factory=list)
    grad_step: list = field(default_factory=list)      # diagnostics, also on some steps only
    grad_norm_scaled: list = field(default_factory=list)   # one list (per layer) per grad_step
    last_event: str | None = None

    def update(self, run) -> int:
        """Copy the run's records that arrived since the last call; return how many."""
        new = run.records(self.impl, self.n_records)
        for r in new:
            if r.event:
                self.last_event = r.event
            if self.step and r.step == self.step[-1]:
                continue        # a stopped run repeats its last step's record to carry the event
            self.step.append(r.step)
            self.epoch.append(r.epoch)
            self.samples_seen.append(r.samples_seen)
            self.loss.append(r.loss)
            self.train_acc.append(r.train_acc)
            self.samples_per_s.append(r.samples_per_s)
            if r.val_acc is not None:
                self.val_step.append(r.step)
                self.val_samples.append(r.samples_seen)
                self.val_loss.append(r.val_loss)
                self.val_acc.append(r.val_acc)
            if r.grad_norm_scaled is not None:
                self.grad_step.append(r.step)
                self.grad_norm_scaled.append(r.grad_norm_scaled)
        self.n_records += len(new)
        return len(new)

    @property
    def final_val_acc(self) -> float | None:
        return self.val_acc[-1] if self.val_acc else None


def series_for(run, cache: dict) -> dict:
    """impl -> TwinSeries of `run`, brought up to date. `cache` is a dict kept in session state."""
    by_impl = cache.setdefault(run.id, {impl: TwinSeries(impl) for impl in run.impls})
    for series in by_impl.values():
        series.update(run)
    return by_impl


def thinned(n: int, max_points: int = MAX_POINTS) -> slice | np.ndarray:
    """Indices that keep at most max_points of n, evenly strided, always keeping the last one."""
    if n <= max_points:
        return slice(None)
    stride = math.ceil(n / max_points)
    keep = np.arange(0, n, stride)
    return keep if keep[-1] == n - 1 else np.append(keep, n - 1)


def extremes(y: np.ndarray, max_points: int = MAX_POINTS) -> slice | np.ndarray:
    """Indices of at most max_points of y that keep its shape: y is cut into about max_points / 2
    buckets of consecutive points, and each bucket keeps its lowest and its highest point (a NaN
    counts as the highest: a diverged step stays where it happened); the first and last points
    are always kept. So a one-step spike survives however long the run, where an even stride would
    skip it; and a curve of 6,300 or 60,000 steps costs the same ~1,000 points to send and draw."""
    n = len(y)
    if n <= max_points:
        return slice(None)
    buckets = (max_points - 4) // 2      # equal buckets, and one more for the few left over
    size = n // buckets
    whole = buckets * size
    key = np.where(np.isnan(np.asarray(y, dtype=np.float64)), np.inf, y)
    rows = key[:whole].reshape(buckets, size)                # (buckets, size)
    start = size * np.arange(buckets)
    keep = [[0, n - 1], start + rows.argmin(axis=1), start + rows.argmax(axis=1)]
    if whole < n:
        keep.append([whole + key[whole:].argmin(), whole + key[whole:].argmax()])
    return np.unique(np.concatenate(keep))


def _xy(x: list, y: list, max_points: int = MAX_POINTS):
    """x, y cut to at most max_points by extremes(), as compact NumPy arrays (plotly sends them as
    binary, not as JSON text; steps as int32 and values as float32: 8 bytes a point)."""
    n = min(len(x), len(y))
    y = np.asarray(y[:n], dtype=np.float64)
    keep = extremes(y, max_points)
    return np.asarray(x[:n]).astype(np.int32, copy=False)[keep], y[keep].astype(np.float32)


def redraw_every(base: float, runs_on_server: int, runs_per_step: int = 5, slowest: int = 4) -> float:
    """Seconds between two redraws of a live chart, given how many runs train or wait on the server.

    base while at most runs_per_step runs are there, then base x2, x3, ... up to x slowest: in a
    busy class each student's page costs the server less, and the charts still move. Whole
    multiples of base, so the interval does not change on every small move of the count (the
    browser restarts its timer when it does)."""
    return base * min(slowest, max(1, math.ceil(runs_on_server / runs_per_step)))


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


def _axis(title: str) -> dict:
    """An axis with fonts big enough for a projector (Streamlit's chart theme draws them small)."""
    return {"title": {"text": title, "font": {"size": FONT_SIZE}}, "tickfont": {"size": FONT_SIZE - 2}}


def _figure(title: str, y_title: str, traces: list, *, x_title: str = "step", log_y: bool = False) -> dict:
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


def _line(impl: str, x: list, y: list, name: str, dash: str = "solid") -> dict:
    x, y = _xy(x, y)
    return {"type": "scatter", "mode": "lines", "x": x, "y": y, "name": name, "legendgroup": impl,
            "line": {"color": TWIN_COLORS[impl], "width": TWIN_LINE_WIDTHS[impl], "dash": dash}}


def _points(impl: str, x: list, y: list, name: str) -> dict:
    x, y = _xy(x, y)
    return {"type": "scatter", "mode": "markers+lines", "x": x, "y": y, "name": name,
            "legendgroup": impl, "line": {"color": TWIN_COLORS[impl], "width": 1, "dash": "dot"},
            "marker": {"color": TWIN_COLORS[impl], "size": 9 if impl == "numpy" else 5}}


def loss_figure(series: dict) -> dict:
    """Batch loss per step (lines) and validation loss (points), one colour per twin."""
    traces = [_line(impl, s.step, s.loss, f"{TWIN_NAMES[impl]} batch") for impl, s in series.items()]
    traces += [_points(impl, s.val_step, s.val_loss, f"{TWIN_NAMES[impl]} val")
               for impl, s in series.items()]
    return _figure("Loss (cross-entropy)", "loss", traces)


def accuracy_figure(series: dict) -> dict:
    """Running training accuracy of the epoch (lines) and validation accuracy (points)."""
    traces = [_line(impl, s.step, s.train_acc, f"{TWIN_NAMES[impl]} train")
              for impl, s in series.items()]
    traces += [_points(impl, s.val_step, s.val_acc, f"{TWIN_NAMES[impl]} val")
               for impl, s in series.items()]
    fig = _figure("Accuracy", "accuracy", traces)
    fig["layout"]["yaxis"].update(range=[0, 1.02], tickformat=".0%")
    return fig


def grad_norm_figure(series: dict) -> dict:
    """Per-layer gradient norm (÷ sqrt(parameters in the layer)); one dash style per layer."""
    traces = []
    for impl, s in series.items():
        per_layer = list(zip(*s.grad_norm_scaled))     # (steps, layers) -> one list per layer
        for layer, values in enumerate(per_layer):
            traces.append(_line(impl, s.grad_step, list(values), f"{TWIN_NAMES[impl]} layer {layer + 1}",
                                dash=LAYER_DASHES[layer % len(LAYER_DASHES)]))
    return _figure("Gradient size per layer", "RMS gradient", traces, log_y=True)


def speed_figure(series: dict) -> dict:
    """Samples per second of each twin, timed over its own steps only."""
    traces = [_line(impl, s.step, s.samples_per_s, TWIN_NAMES[impl]) for impl, s in series.items()]
    fig = _figure("Training speed", "samples / s", traces)
    fig["layout"]["yaxis"]["rangemode"] = "tozero"
    return fig


@dataclass
class TwinGap:
    step: np.ndarray       # steps both twins have taken
    gap: np.ndarray        # |loss NumPy - loss PyTorch| at each of those steps
    identical: int         # steps where the two losses are exactly equal


def twin_gap(series: dict) -> TwinGap | None:
    """Per step, how far apart the two twins' batch losses are; None unless both twins trained."""
    if "numpy" not in series or "torch" not in series:
        return None
    a, b = series["numpy"], series["torch"]
    n = min(len(a.loss), len(b.loss))
    gap = np.abs(np.asarray(a.loss[:n], dtype=np.float64) - np.asarray(b.loss[:n], dtype=np.float64))
    return TwinGap(np.asarray(a.step[:n]), gap, int(np.count_nonzero(gap == 0)))


def gap_figure(gap: TwinGap) -> dict:
    """The twin gap on a log axis (steps where the losses are exactly equal cannot be drawn there)."""
    shown = gap.gap > 0
    x, y = _xy(gap.step[shown], gap.gap[shown])
    trace = {"type": "scatter", "mode": "lines", "x": x, "y": y, "name": "gap",
             "line": {"color": "#7c3aed", "width": 2}}
    fig = _figure("Twin gap: |loss NumPy − loss PyTorch|", "absolute difference", [trace], log_y=True)
    fig["layout"]["showlegend"] = False
    return fig


# ---- run progress -----------------------------------------------------------------------------
def steps_per_epoch(run) -> int:
    n_train = len(run.split.y_train)
    return math.ceil(n_train / (run.config.batch_size or n_train))


def progress(run, series: TwinSeries) -> tuple[float, str]:
    """(fraction of the run done, 'NumPy · epoch 2/10 · step 130/630') for one twin."""
    total = steps_per_epoch(run) * run.config.epochs
    done = series.step[-1] if series.step else 0
    epoch = series.epoch[-1] if series.epoch else 0
    text = f"{TWIN_NAMES[series.impl]} · epoch {epoch}/{run.config.epochs} · step {done:,}/{total:,}"
    return min(done / total, 1.0), text


def config_summary(config) -> str:
    """One line a learner can read: what this run trained."""
    hidden = ",".join(map(str, config.hidden)) or "none"
    batch = "full batch" if config.batch_size == 0 else f"batch {config.batch_size}"
    extras = [f"L2 {config.l2:g}"] * bool(config.l2) + [f"dropout {config.dropout:g}"] * bool(config.dropout)
    return " · ".join([f"hidden {hidden}", config.activation, f"init {config.init}", config.optimizer,
                       f"lr {config.lr:g}", batch, f"{config.epochs} epochs", *extras,
                       f"seed {config.seed}", config.dtype])


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


_never_inked = {}   # id(x) -> (weak reference to x, count): counted once per (read-only) split


def never_inked(x: np.ndarray) -> int:
    """How many pixels no row of x inks (see nn_core.images.never_inked_pixels), cached per array."""
    ref, count = _never_inked.get(id(x), (None, None))
    if ref is None or ref() is not x:
        count = int(never_inked_pixels(x).sum())
        if len(_never_inked) > 16:
            _never_inked.clear()
        _never_inked[id(x)] = (weakref.ref(x), count)
    return count


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


# ---- run history (drawn once per page run, plotly.express) -------------------------------------
def history_table(runs: list, cache: dict) -> pd.DataFrame:
    """One row per run: what it trained and how it ended."""
    rows = []
    for run in runs:
        series = series_for(run, cache)
        row = {"run": run.name.split(" · ")[0], "status": run.status,
               "settings": config_summary(run.config)}
        for impl in ("numpy", "torch"):
            acc = series[impl].final_val_acc if impl in series else None
            row[f"{TWIN_NAMES[impl]} val acc"] = acc
        rows.append(row)
    return pd.DataFrame(rows)


def history_frame(runs: list, cache: dict) -> pd.DataFrame:
    """Long table of the chosen runs' curves, x in epochs so runs with other batch sizes line up."""
    parts = []
    for run in runs:
        n_train = len(run.split.y_train)
        label = run.name.split(" · ")[0]
        for impl, s in series_for(run, cache).items():
            keep = thinned(len(s.step))
            parts.append(pd.DataFrame({
                "epoch": np.asarray(s.samples_seen, dtype=np.float64)[keep] / n_train,
                "value": np.asarray(s.loss, dtype=np.float64)[keep], "curve": "batch loss",
                "run": label, "twin": TWIN_NAMES[impl]}))
            keep = thinned(len(s.val_step))
            parts.append(pd.DataFrame({
                "epoch": np.asarray(s.val_samples, dtype=np.float64)[keep] / n_train,
                "value": np.asarray(s.val_acc, dtype=np.float64)[keep], "curve": "validation accuracy",
                "run": label, "twin": TWIN_NAMES[impl]}))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        columns=["epoch", "value", "curve", "run", "twin"])


def history_figure(frame: pd.DataFrame, curve: str):
    """One curve ('batch loss' or 'validation accuracy') of several runs: colour = run, dash = twin."""
    data = frame[frame["curve"] == curve]
    fig = px.line(data, x="epoch", y="value", color="run", line_dash="twin",
                  markers=curve == "validation accuracy", height=CHART_HEIGHT,
                  title=f"{curve.capitalize()} of the chosen runs", labels={"value": curve})
    fig.update_layout(font_size=FONT_SIZE, margin=dict(l=10, r=10, t=50, b=10))
    if curve == "batch loss":
        fig.update_traces(opacity=0.7)
    else:
        fig.update_yaxes(tickformat=".0%")
    return fig


# ---- downloads --------------------------------------------------------------------------------
def records_frame(run) -> pd.DataFrame:
    """Every record of both twins; per-layer lists become columns like grad_norm_layer1."""
    rows = [r.to_dict() for impl in run.impls for r in run.records(impl)]
    frame = pd.DataFrame(rows)
    for column in ("grad_norm", "grad_norm_scaled", "weight_norm", "update_ratio"):
        if column not in frame or frame[column].isna().all():
            continue
        lists = frame.pop(column)
        n_layers = max(len(v) for v in lists if isinstance(v, list))
        for layer in range(n_layers):
            frame[f"{column}_layer{layer + 1}"] = [v[layer] if isinstance(v, list) else None for v in lists]
    return frame


def records_csv(run) -> bytes:
    return records_frame(run).to_csv(index=False).encode("utf-8")

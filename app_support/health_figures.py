"""The Network health page's figures: a twin's records -> plotly figure dicts, and the sentence
under each chart (kept in app_support.teaching with the others).

No streamlit, and no maths: the percentile bands are read off the records' histograms by
nn_core.diagnostics.histogram_percentiles. Figures are plain dicts in plotly's JSON layout (the page
hands them over as figures.ready(...), which skips plotly's per-property checks on every live redraw;
tests/test_app_health.py checks each kind with plotly's validation).
"""

from dataclasses import dataclass, field

import numpy as np

from app_support import teaching
from nn_core.diagnostics import ALMOST_EVERY, BAND_PERCENTILES, SATURATED_SLOPE, histogram_percentiles

# Update-to-weight ratios shaded as healthy: one decade either side of 1e-3, the rule of thumb
# (Karpathy's "makemore" lectures) for how far one step should move a layer's weights.
HEALTHY_BAND = (1e-4, 1e-2)
HEALTHY_RATIO = 1e-3
MAX_POINTS = 500            # per line: longer series are thinned to every k-th diagnostic step
BAND_POINTS = 200           # per band chart's step axis (each layer draws 9 lines over it)
HEIGHT = 330
FONT_SIZE = 16              # readable on a classroom projector, as on the other pages
# Okabe-Ito colours (safe for colour-blind eyes), one per layer.
LAYER_COLORS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#000000", "#F0E442")
BAND_COLORS = {"weights": "15, 118, 110", "gradients": "124, 58, 237", "activations": "180, 83, 9"}
BAND_OPACITY = (0.15, 0.25, 0.35, 0.5)     # outermost (all values) to innermost (the middle 38 %)
# Above the chart, right-aligned, in trace order (plotly reverses it when a trace fills to the next).
LEGEND = {"orientation": "h", "x": 1, "xanchor": "right", "y": 1.0, "yanchor": "bottom", "traceorder": "normal"}

# chart -> its sentence in app_support.teaching; the dead / saturated chart's depends on the activation.
NOTICE = {
    "weights": teaching.NOTICE["health_weights"],
    "gradients": teaching.NOTICE["health_gradients"],
    "activations": teaching.NOTICE["health_activations"],
    "update_ratio": teaching.NOTICE["health_update_ratio"],
}
UNITS_NOTICE = {
    "relu": teaching.NOTICE["health_dead_relu"],
    "leaky_relu": teaching.NOTICE["health_dead_leaky_relu"],
    "sigmoid": teaching.NOTICE["health_saturated"],
    "tanh": teaching.NOTICE["health_saturated"],
}


def notice(chart: str, activation: str) -> str:
    """The sentence under a chart; the dead / saturated chart's depends on the activation."""
    sentence = UNITS_NOTICE[activation] if chart == "units" else NOTICE[chart]
    return sentence.format(activation=activation, almost_every=round(ALMOST_EVERY * 100),
                           slope=round(SATURATED_SLOPE * 100))


# ---- records -> plain lists ---------------------------------------------------------------------
@dataclass
class HealthSeries:
    """One twin's health records as lists, one entry per diagnostic step (histograms: per
    histogram step), each entry a list per layer."""
    diag_step: list = field(default_factory=list)
    dead: list = field(default_factory=list)            # entries None unless ReLU / leaky ReLU
    saturated: list = field(default_factory=list)       # entries None unless sigmoid / tanh
    update_ratio: list = field(default_factory=list)
    hist_step: list = field(default_factory=list)
    weight_hist: list = field(default_factory=list)
    grad_hist: list = field(default_factory=list)
    activation_hist: list = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.diag_step


def health_series(records) -> HealthSeries:
    """The health fields of a twin's records (nn_core.trainer.Record), diagnostic steps only (a
    run recorded before these fields existed has none)."""
    checks = [r for r in records if r.dead_fraction is not None or r.saturated_fraction is not None]
    # A stopped run repeats its last step's record to carry the event: keep one.
    checks = [r for i, r in enumerate(checks) if i == 0 or r.step != checks[i - 1].step]
    counted = [r for r in checks if r.weight_hist is not None]
    return HealthSeries(
        diag_step=[r.step for r in checks], dead=[r.dead_fraction for r in checks],
        saturated=[r.saturated_fraction for r in checks], update_ratio=[r.update_ratio for r in checks],
        hist_step=[r.step for r in counted], weight_hist=[r.weight_hist for r in counted],
        grad_hist=[r.grad_hist for r in counted], activation_hist=[r.activation_hist for r in counted])


def layer_names(layer_sizes) -> list:
    """['layer 1 (784→128)', ...] for every layer with weights."""
    return [f"layer {i + 1} ({a}→{b})" for i, (a, b) in enumerate(zip(layer_sizes[:-1], layer_sizes[1:]))]


def _kept(n: int, max_points: int = MAX_POINTS) -> list:
    """Indices of at most about max_points of n entries: every k-th, and always the last."""
    every = max(1, -(-n // max_points))
    keep = list(range(0, n, every))
    return keep if not n or keep[-1] == n - 1 else keep + [n - 1]


# ---- figure dicts -------------------------------------------------------------------------------
# Arrays go in as NumPy arrays, which plotly sends as compact binary (steps int32, values float32):
# a band chart of 3 layers x 9 lines is ~3x smaller, and quicker to serialise, than as JSON numbers.
def _steps(values) -> np.ndarray:
    return np.asarray(values, dtype=np.int32)


def _values(values) -> np.ndarray:
    return np.asarray(values, dtype=np.float32)


def _axis(title: str, **more) -> dict:
    return {"title": {"text": title, "font": {"size": FONT_SIZE}}, "tickfont": {"size": FONT_SIZE - 2},
            **more}


def _layout(title: str, **more) -> dict:
    return {"title": {"text": title, "font": {"size": FONT_SIZE + 2}}, "height": HEIGHT,
            "font": {"size": FONT_SIZE}, "margin": {"l": 10, "r": 10, "t": 80, "b": 10},
            "uirevision": "keep", **more}       # uirevision: keep the user's zoom across redraws


def _empty_trace() -> dict:
    return {"type": "scatter", "x": [], "y": [], "showlegend": False}


def _columns(titles: list, y_title: str) -> dict:
    """Layout entries for one subplot per title, side by side: axes x, x2, ... and y, y2, ... (each
    its own scale), and each subplot's title above it."""
    gap = 0.05 if len(titles) > 1 else 0.0
    width = (1 - gap * (len(titles) - 1)) / len(titles)
    layout, labels = {}, []
    for i, title in enumerate(titles):
        n = "" if i == 0 else str(i + 1)
        left = i * (width + gap)
        layout[f"xaxis{n}"] = _axis("step", domain=[left, left + width], anchor=f"y{n}")
        layout[f"yaxis{n}"] = _axis(y_title if i == 0 else "", anchor=f"x{n}")
        labels.append({"text": title, "x": left + width / 2, "y": 1.0, "xref": "paper", "yref": "paper",
                       "xanchor": "center", "yanchor": "bottom", "showarrow": False,
                       "font": {"size": FONT_SIZE - 2}})
    return layout | {"annotations": labels}


def bands_figure(quantity: str, title: str, y_title: str, steps: list, per_step: list, names: list) -> dict:
    """One subplot per layer: TensorBoard-style bands of a quantity over the steps. per_step: one
    list of histograms (one per layer) per step; quantity: a key of BAND_COLORS."""
    keep = _kept(len(steps), BAND_POINTS)
    x = _steps([steps[i] for i in keep])
    color = BAND_COLORS[quantity]
    traces = []
    for layer, name in enumerate(names):
        axes = {"xaxis": "x" if layer == 0 else f"x{layer + 1}", "yaxis": "y" if layer == 0 else f"y{layer + 1}"}
        bands = _values(histogram_percentiles([per_step[i][layer] for i in keep]) if keep else
                        np.zeros((0, len(BAND_PERCENTILES))))                           # (T, 9)
        outer = len(BAND_PERCENTILES) - 1
        for band, opacity in enumerate(BAND_OPACITY):                # pairs (0, 100), (7, 93), ...
            for edge, fill in ((band, "none"), (outer - band, "tonexty")):
                traces.append({"type": "scatter", "mode": "lines", "x": x, "y": bands[:, edge],
                               "line": {"width": 0, "color": f"rgb({color})"}, "fill": fill,
                               "fillcolor": f"rgba({color}, {opacity})", "hoverinfo": "skip",
                               "showlegend": False, **axes})
        traces.append({"type": "scatter", "mode": "lines", "x": x, "y": bands[:, outer // 2],
                       "line": {"width": 2, "color": f"rgb({color})"}, "name": f"{name} median",
                       "hovertemplate": "step %{x}<br>median %{y:.3g}<extra></extra>",
                       "showlegend": False, **axes})
    return {"data": traces or [_empty_trace()], "layout": _layout(title, **_columns(names, y_title))}


def units_figure(series: HealthSeries, activation: str, names: list) -> dict:
    """The share of dead (ReLU family) or saturated (sigmoid, tanh) units per hidden layer."""
    saturating = activation in ("sigmoid", "tanh")
    shares = series.saturated if saturating else series.dead
    keep = _kept(len(series.diag_step))
    traces = [{"type": "scatter", "mode": "lines", "name": name,
               "x": _steps([series.diag_step[i] for i in keep]), "y": _values([shares[i][layer] for i in keep]),
               "line": {"width": 2.5, "color": LAYER_COLORS[layer % len(LAYER_COLORS)]}}
              for layer, name in enumerate(names)]
    title = "Saturated units per hidden layer" if saturating else "Dead units per hidden layer"
    return {"data": traces or [_empty_trace()], "layout": _layout(
        title, xaxis=_axis("step"), yaxis=_axis("share of the layer's units", range=[0, 1.02], tickformat=".0%"),
        legend=LEGEND)}


def update_ratio_figure(series: HealthSeries, names: list) -> dict:
    """‖ΔW‖ / ‖W‖ per layer on a log axis, over the healthy band."""
    keep = _kept(len(series.diag_step))
    x = _steps([series.diag_step[i] for i in keep])
    ends = [int(x[0]), int(x[-1])] if len(x) else []
    low, high = HEALTHY_BAND
    traces = [{"type": "scatter", "mode": "lines", "x": ends, "y": [low] * len(ends), "showlegend": False,
               "line": {"width": 0}, "hoverinfo": "skip"},
              {"type": "scatter", "mode": "lines", "x": ends, "y": [high] * len(ends), "fill": "tonexty",
               "fillcolor": "rgba(34, 197, 94, 0.18)", "line": {"width": 0}, "hoverinfo": "skip",
               "name": "healthy band 10⁻⁴ to 10⁻²"},
              {"type": "scatter", "mode": "lines", "x": ends, "y": [HEALTHY_RATIO] * len(ends),
               "line": {"width": 1.5, "color": "#15803d", "dash": "dash"}, "name": "10⁻³",
               "hoverinfo": "skip"}]
    traces += [{"type": "scatter", "mode": "lines", "name": name, "x": x,
                "y": _values([series.update_ratio[i][layer] for i in keep]),
                "line": {"width": 2.5, "color": LAYER_COLORS[layer % len(LAYER_COLORS)]}}
               for layer, name in enumerate(names)]
    return {"data": traces, "layout": _layout(
        "Update-to-weight ratio per layer", xaxis=_axis("step"),
        yaxis=_axis("‖ΔW‖ / ‖W‖", type="log", exponentformat="power"),
        legend=LEGEND)}


"""Plotly Express figures for the pages. Each takes numbers nn_core computed and only draws them.

Digits are drawn as MNIST stores them: light ink (255) on a black background (0), like the canvas.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.express as px

DIGITS = [str(d) for d in range(10)]
TWIN_COLOURS = {"NumPy": "#1d4ed8", "PyTorch": "#ea580c"}   # blue / orange: distinguishable when colour-blind


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
                 color_discrete_map=TWIN_COLOURS, range_y=[0, 1])
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


def speed_figure(rows: list[dict]):
    """Grouped bars of median samples/s per batch size, one colour per twin and device."""
    frame = pd.DataFrame([{"batch size": str(r["batch_size"]),
                           "twin": f"{'NumPy' if r['impl'] == 'numpy' else 'PyTorch'} ({r['device']})",
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

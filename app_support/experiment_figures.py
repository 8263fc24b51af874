"""The Experiments page's charts and tables: one colour per value. No maths."""

import math

import pandas as pd
import plotly.express as px

from app_support.figures import CHART_HEIGHT, FONT_SIZE, line_chart
from app_support.series import history_frame

COLOURS = px.colors.qualitative.Safe     # colour-blind safe, one distinct colour per value (up to 11)
CURVE_TITLES = {"batch loss": "Batch loss", "validation accuracy": "Validation accuracy"}


def curves_frame(runs: list, cache: dict) -> pd.DataFrame:
    """Every run's batch loss and validation accuracy, long form, x in epochs (runs with other
    batch sizes line up): columns epoch, value, curve, run (its label), twin."""
    return history_frame(runs, cache)


def curves_figure(frame: pd.DataFrame, curve: str, labels: list[str]) -> dict:
    """One curve of every run overlaid, one colour per value (in the experiment's order), as a
    figure dict: the page redraws it every second while the experiment trains."""
    data = frame[frame["curve"] == curve]
    accuracy = curve == "validation accuracy"
    traces = []
    for i, label in enumerate(labels):
        part = data[data["run"] == label]
        if part.empty:
            continue
        colour = COLOURS[i % len(COLOURS)]
        traces.append({"type": "scatter", "mode": "lines+markers" if accuracy else "lines",
                       "x": part["epoch"].to_numpy(), "y": part["value"].to_numpy(), "name": label,
                       "opacity": 1.0 if accuracy else 0.8,
                       "line": {"color": colour}, "marker": {"color": colour}})
    fig = line_chart(CURVE_TITLES[curve], curve, traces, x_title="epoch",
                     log_y=not accuracy)                                  # a blow-up hides nothing
    fig["layout"]["legend"].update(x=0, xanchor="left", y=-0.25, yanchor="top")
    if accuracy:
        fig["layout"]["yaxis"]["tickformat"] = ".0%"
    return fig


def results_frame(results: list) -> pd.DataFrame:
    """One row per run: nn_core.experiments.RunResult.row()."""
    return pd.DataFrame([r.row() for r in results]).drop(columns="twin")


def lr_finder_figure(finding):
    """Each probe's loss and the smoothed loss against the learning rate (log axis), with the
    suggestion marked."""
    frame = pd.DataFrame([p.to_dict() for p in finding.probes])
    long = frame.melt(id_vars=["step", "lr"], value_vars=["loss", "smoothed"], var_name="curve",
                      value_name="value").replace({"curve": {"loss": "batch loss", "smoothed": "smoothed loss"}})
    fig = px.line(long, x="lr", y="value", color="curve", log_x=True, height=CHART_HEIGHT,
                  color_discrete_map={"batch loss": "#9ca3af", "smoothed loss": "#1d4ed8"},
                  title="Loss while the learning rate rises", labels={"lr": "learning rate", "value": "loss",
                                                                      "curve": ""})
    fig.update_layout(font_size=FONT_SIZE, margin=dict(l=10, r=10, t=50, b=10))
    fig.update_xaxes(dtick=1, exponentformat="power")                # 10⁻⁶ ... 10¹, one tick a decade
    start = frame["smoothed"].iloc[0]
    if math.isfinite(start):
        fig.update_yaxes(range=[0, 1.5 * start])                     # the blow-up runs off the top
    if finding.suggested_lr is not None:     # on the smoothed curve, at the first probe from the suggestion
        at = frame.loc[frame["lr"] >= finding.suggested_lr, "smoothed"].iloc[0]     # (it may lie between probes)
        fig.add_scatter(x=[finding.suggested_lr], y=[at], mode="markers",
                        name=f"suggestion: {finding.suggested_lr:.2g}",
                        marker=dict(size=16, symbol="star", color="black"))
    return fig

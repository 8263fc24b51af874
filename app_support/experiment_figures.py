"""The Experiments page's charts and tables: one colour per value, plotly express. No maths."""

import math

import pandas as pd
import plotly.express as px

from app_support.figures import CHART_HEIGHT, FONT_SIZE
from app_support.series import history_frame

COLOURS = px.colors.qualitative.Safe     # colour-blind safe, one distinct colour per value (up to 11)
CURVE_TITLES = {"batch loss": "Batch loss", "validation accuracy": "Validation accuracy"}


def curves_frame(runs: list, cache: dict) -> pd.DataFrame:
    """Every run's batch loss and validation accuracy, long form, x in epochs (runs with other
    batch sizes line up): columns epoch, value, curve, run (its label), twin."""
    return history_frame(runs, cache)


def curves_figure(frame: pd.DataFrame, curve: str, labels: list[str]):
    """One curve of every run overlaid, one colour per value (in the experiment's order)."""
    data = frame[frame["curve"] == curve]
    fig = px.line(data, x="epoch", y="value", color="run", category_orders={"run": labels},
                  color_discrete_sequence=COLOURS, log_y=curve == "batch loss",   # a blow-up hides nothing
                  markers=curve == "validation accuracy", height=CHART_HEIGHT,
                  title=CURVE_TITLES[curve], labels={"value": curve, "run": ""})
    fig.update_layout(font_size=FONT_SIZE, margin=dict(l=10, r=10, t=50, b=10),
                      legend=dict(orientation="h", y=-0.25))
    if curve == "validation accuracy":
        fig.update_yaxes(tickformat=".0%")
    else:
        fig.update_traces(opacity=0.8)
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

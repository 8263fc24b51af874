"""The Train page's run history: a table of the student's runs, their curves overlaid, and the
files of one run to download (metrics CSV, each twin's model)."""

import functools

import streamlit as st

from nn_core.model_io import model_bytes
from nn_core.twins import TWIN_NAMES

from . import figures, series, teaching
from .live_view import series_cache

PERCENT = st.column_config.NumberColumn(format="percent")


def model_file(twin, activation: str, kind: str) -> bytes:
    """A twin's current weights as a .npz or .pt file (made only when the button is clicked)."""
    return model_bytes(twin.params(), activation, kind)


def show(all_runs: list, torch_ok: bool) -> None:
    """The run history of `all_runs` (oldest first); nothing if there is none yet."""
    if not all_runs:
        return
    st.header("Run history")
    cache = series_cache()
    st.dataframe(series.history_table(all_runs, cache), hide_index=True, width="stretch",
                 column_config={f"{name} val acc": PERCENT for name in TWIN_NAMES.values()},
                 placeholder="—")        # a run with no accuracy (yet): a dash, not the word "None"
    by_label = {r.label: r for r in all_runs}
    finished = [label for label, r in by_label.items() if r.finished]
    chosen = st.multiselect("Overlay the curves of", finished, default=finished[-2:],
                            key=f"train.overlay.{len(finished)}",     # a run ends: the newest two
                            help="Runs that have ended; x is in epochs, so runs with different "
                            "batch sizes line up.")
    if chosen:
        frame = series.history_frame([by_label[label] for label in chosen], cache)
        left, right = st.columns(2)
        for column, curve, key in ((left, "batch loss", "train_history_loss"),
                                   (right, "validation accuracy", "train_history_acc")):
            column.plotly_chart(figures.ready(figures.history_figure(frame, curve)), key=key)
        st.caption(teaching.NOTICE["history"])

    label = st.selectbox("Download the files of", list(reversed(by_label)),
                         key=f"train.download_run.{len(all_runs)}")      # a new run: newest first
    downloads(by_label[label], torch_ok)


def downloads(run, torch_ok: bool) -> None:
    """A row of download buttons: the run's metrics CSV, then each twin's model file(s)."""
    name = run.label.replace(" ", "-")
    columns = iter(st.columns(5))
    next(columns).download_button("Metrics CSV", data=functools.partial(series.records_csv, run),
                                  file_name=f"{name}-metrics.csv", mime="text/csv", on_click="ignore",
                                  icon=":material/download:", key=f"train.dl.csv.{run.id}")
    kinds = (".npz", ".pt") if torch_ok else (".npz",)
    twins = dict(run.twins)                   # (a twin's entry appears when its first weights arrive)
    trained = [impl for impl in run.impls if impl in twins]      # NumPy first, whichever started first
    for impl in trained:
        for kind in kinds:
            data = functools.partial(model_file, twins[impl], run.config.activation, kind)
            next(columns).download_button(
                f"{TWIN_NAMES[impl]} model {kind}", data=data, on_click="ignore",
                file_name=f"{name}-{impl}{kind}", icon=":material/download:",
                key=f"train.dl.{impl}{kind}.{run.id}")

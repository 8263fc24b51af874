"""The Train page's live part: the run's status, its curves and the first layer's weights, drawn in
two timed fragments while the run trains (the page calls `draw`).

The fast fragment (status, loss, accuracy, twin gap, speed) redraws every LIVE_EVERY seconds, the
slow one (gradient size per layer, first-layer weights: they change slowly) every SLOW_EVERY
seconds; both less often when the server is busy (server.redraw_every). Idle, they do not poll.
"""

import streamlit as st

from nn_core.run import DIVERGED, DONE, FAILED, LIMIT, PAUSED, QUEUED, RUNNING, STOPPED
from nn_core.store import INTERRUPTED
from nn_core.twins import TWIN_NAMES

from . import figures, series, server, teaching
from .session import CAUGHT_UP

SERIES = "train.series"             # run id -> impl -> series.TwinSeries (records already converted)
POLLED_WHILE_QUEUED = "train.polled_while_queued"   # the run whose live charts look every second
LIVE_EVERY = 1.0                    # seconds between redraws of the live curves while a run trains
SLOW_EVERY = 2.0                    # gradient sizes and weight images change slowly: redrawn less often

STATUS_TEXT = {
    QUEUED: "waiting in the queue",
    RUNNING: "training…",
    PAUSED: "paused: press Step for one more step, or Resume",
    DONE: "done",
    STOPPED: "stopped",
    DIVERGED: "diverged",
    LIMIT: "stopped at this server's limit",
    FAILED: "failed",
    INTERRUPTED: "interrupted by a server restart",
}
# How a twin's final message is shown, by the event that ended it.
MESSAGE_BOX = {"done": st.success, "stopped": st.info, "limit": st.warning, "diverged": st.error}


def series_cache() -> dict:
    """This session's converted records: run id -> impl -> TwinSeries."""
    return st.session_state.setdefault(SERIES, {})


def draw(run) -> None:
    """Both fragments for `run` (None: empty charts, so the browser loads plotly before the click).

    A queued run's page draws its status only, which costs the server little: it looks every
    LIVE_EVERY seconds whatever the load, so the charts appear within a second of the run's start.
    Then one full rerun sets the pace of a busy server (see live_charts)."""
    active = run is not None and not run.finished
    busy = server.trainer_pool().runs_here() if active else 0
    queued = active and run.status == QUEUED
    st.session_state[POLLED_WHILE_QUEUED] = run.id if queued else None
    every = (LIVE_EVERY if queued else server.redraw_every(LIVE_EVERY, busy)) if active else None
    server.live_fragment(live_charts, every)(run, active)
    server.live_fragment(slow_charts, server.redraw_every(SLOW_EVERY, busy) if active else None)(run)


def show_status(run, by_impl: dict) -> None:
    status = run.status
    st.markdown(f"#### {run.label}: {STATUS_TEXT[status]}")
    if status == QUEUED:
        cap = run.pool.max_runs
        st.info(f"This server trains at most {cap} run{'s' if cap != 1 else ''} at once, and "
                f"{'that many are' if cap != 1 else 'one is'} training now: you are number "
                f"{run.queue_place()} in the queue.")
    for column, (impl, s) in zip(st.columns(len(by_impl)), by_impl.items()):
        fraction, text = series.progress(run, s)
        column.progress(fraction, text=text)
    for impl, message in run.messages().items():
        show = st.error if impl in run.errors else MESSAGE_BOX.get(by_impl[impl].last_event, st.info)
        show(f"{TWIN_NAMES[impl]} twin: {message}")


def live_charts(run, polling: bool) -> None:
    """polling: whether this fragment is being redrawn on a timer (the run was active)."""
    if run is None:
        by_impl = {}
        st.info("Press **Train both** to start. Small settings (hidden 32, 2 epochs) finish in seconds.")
    else:
        by_impl = series.series_for(run, series_cache())
        show_status(run, by_impl)
        if run.status == QUEUED:        # nothing to draw yet; on a busy server, every redraw counts
            st.caption("The charts appear as soon as this run starts.")
            return
        if polling and st.session_state.get(POLLED_WHILE_QUEUED) == run.id and not run.finished:
            st.session_state[POLLED_WHILE_QUEUED] = None      # it has started: one full rerun, and
            st.rerun()                                        # the charts redraw at the server's pace

    left, right = st.columns(2)
    left.plotly_chart(figures.ready(figures.loss_figure(by_impl)), key="train_chart_loss")
    left.caption(teaching.NOTICE["loss"])
    right.plotly_chart(figures.ready(figures.accuracy_figure(by_impl)), key="train_chart_accuracy")
    right.caption(teaching.NOTICE["accuracy"])

    left, right = st.columns(2)
    gap = series.twin_gap(by_impl)
    if gap is None:
        left.info("The **twin gap** compares the two twins step by step: press **Train both** to see it.")
    else:
        left.plotly_chart(figures.ready(figures.gap_figure(gap)), key="train_chart_gap")
        left.caption(teaching.NOTICE[f"gap_{run.config.dtype}"]
                     + f" Identical at {gap.identical:,} of {len(gap.gap):,} steps.")
    right.plotly_chart(figures.ready(figures.training_speed_figure(by_impl)), key="train_chart_speed")
    right.caption(teaching.NOTICE["speed"])

    if polling and run.finished and st.session_state.get(CAUGHT_UP) != run.id:
        # One full rerun per run: buttons, run history and sidebar catch up and polling stops. Only
        # one: on a busy server a rerun can wait behind others, and every timer tick asking again
        # would pile reruns up.
        st.session_state[CAUGHT_UP] = run.id
        st.rerun()


def slow_charts(run) -> None:
    """The charts that change slowly: gradient size per layer, then the first layer's weights."""
    if run is not None and run.status == QUEUED:
        return
    by_impl = {} if run is None else series.series_for(run, series_cache())
    st.plotly_chart(figures.ready(figures.grad_norm_figure(by_impl)), key="train_chart_grad")
    st.caption(teaching.NOTICE["gradients"])
    if run is not None:
        weight_images(run)


def weight_images(run) -> None:
    st.subheader("What the first layer looks for")
    trained = [impl for impl in run.impls if impl in run.twins]
    if not trained:
        st.caption("The weight images appear when the first twin starts.")
        return
    impl = st.radio("Weights of", trained, format_func=TWIN_NAMES.get, horizontal=True,
                    key=f"train.weights_twin.{run.id}")
    first_layer_weights = run.twins[impl].params()[0][0]            # (784, units)
    unit = "unit" if run.config.hidden else "digit"
    st.plotly_chart(figures.ready(figures.weights_figure(first_layer_weights, unit)),
                    key="train_chart_weights")
    st.caption(teaching.NOTICE["weights"].format(
        unit=unit, shown=figures.tiles_shown_text(first_layer_weights, unit),
        blank=series.never_inked(run.split.x_train)))

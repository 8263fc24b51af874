"""Network health: the latest run's layers over the steps, live while it trains: distributions of the
weights, gradients and activations, dead or saturated units, and the update-to-weight ratio."""

import streamlit as st

from app_support import figures, server, session
from app_support import health_figures as hf
from nn_core.diagnostics import HISTOGRAM_EVERY, HISTOGRAM_SAMPLE
from nn_core.run import LIMIT, QUEUED, RUNNING
from nn_core.twins import TWIN_NAMES

HEALTH_EVERY = 2.0                  # seconds between redraws while the run trains
CAUGHT_UP = "health.caught_up"      # id of the last run whose end triggered the full rerun
# How a run's status reads in the line above the charts (any other status reads as it is: "done", ...).
STATUS_WORDS = {RUNNING: "training…", QUEUED: "waiting in the queue", LIMIT: "stopped at this server's limit"}


def steps_text(n: int) -> str:
    return "every step" if n == 1 else f"every {n:,} steps"


def link_to_train() -> None:
    st.page_link("app_pages/train.py", label="Train & compare", icon=":material/model_training:")


def health_charts(run, impl: str, polling: bool) -> None:
    """Every chart of one twin of the run, from its records so far."""
    latest = run.latest(impl)
    state_text = STATUS_WORDS.get(run.status, run.status)
    step_text = f"step {latest.step:,}, epoch {latest.epoch} of {run.config.epochs}" if latest else "no step yet"
    st.markdown(f"#### {run.label} · {TWIN_NAMES[impl]} twin · {step_text} · {state_text}")
    series = hf.health_series(run.records(impl))
    if series.empty:
        if run.finished:
            st.info("This run has no health checks (it was trained before they existed): train again.")
            link_to_train()
        else:
            st.info("The first health check comes with the twin's first step.")
    else:
        names = hf.layer_names(run.config.layer_sizes)
        hidden, activation = names[:-1], run.config.activation
        charts = [
            ("weights", hf.bands_figure("weights", "Weights W per layer", "W", series.hist_step,
                                        series.weight_hist, names)),
            ("gradients", hf.bands_figure("gradients", "Gradients dW per layer", "dW", series.hist_step,
                                          series.grad_hist, names)),
        ]
        if hidden:
            charts += [
                ("activations", hf.bands_figure("activations", f"Activations f(z) per hidden layer ({activation})",
                                                "f(z)", series.hist_step, series.activation_hist, hidden)),
                ("units", hf.units_figure(series, activation, hidden)),
            ]
        charts.append(("update_ratio", hf.update_ratio_figure(series, names)))
        for chart, figure in charts:
            st.plotly_chart(figures.ready(figure), key=f"health_chart_{chart}")
            st.caption(hf.notice(chart, activation))

    if polling and run.finished and st.session_state.get(CAUGHT_UP) != run.id:
        st.session_state[CAUGHT_UP] = run.id       # one full rerun: polling stops (as on Train)
        st.rerun()


st.title("Network health")
run = session.current_run()
if run is None:
    st.info("No run yet: train a network on Train & compare, then come back here to watch its layers.")
    link_to_train()
    st.stop()

every = run.config.diag_every
st.write(f"{steps_text(every).capitalize()} each twin checks every layer of its network: how many "
         "units have stopped learning and how far the step moved the weights; "
         f"{steps_text(every * HISTOGRAM_EVERY)} also how the weights, gradients and activations are "
         f"spread (from up to {HISTOGRAM_SAMPLE:,} sampled values per layer).")
impl = st.radio("Twin", run.impls, format_func=TWIN_NAMES.get, horizontal=True,
                key=f"health.twin.{run.id}")
active = not run.finished
busy = server.trainer_pool().runs_here() if active else 0
server.live_fragment(health_charts, server.redraw_every(HEALTH_EVERY, busy) if active else None)(
    run, impl, active)

"""Train & compare: the same network trained by the NumPy twin and the PyTorch twin, live.

The page only reads widgets and draws. Training runs in background threads (nn_core.run.Run, kept
in st.session_state by app_support.state); two timed fragments redraw its records while it runs.
"""

import functools

import streamlit as st

from app_support import charts, state, teaching
from app_support import train_settings as ts
from nn_core.config import ACTIVATION_NAMES, INIT_NAMES, OPTIMIZER_NAMES
from nn_core.errors import UserError
from nn_core.model_io import model_bytes
from nn_core.run import DIVERGED, DONE, FAILED, LIMIT, PAUSED, QUEUED, RUNNING, STOPPED
from nn_core.store import INTERRUPTED

SETTINGS = "train.settings"         # the settings' widget values, kept while on other pages
LINK_WARNING = "train.link_warning"  # what a shared link asked for that could not be used
START_ERROR = "train.start_error"   # why the last click on Train did not start a run
SERIES = "train.series"             # run id -> impl -> charts.TwinSeries (records already converted)
CAUGHT_UP = "train.caught_up"       # id of the last run whose end triggered the full rerun
WIDGET = "train.w."                 # prefix of the settings widgets' keys
LIVE_EVERY = 1.0                    # seconds between redraws of the live curves while a run trains
SLOW_EVERY = 2.0                    # gradient sizes and weight images change slowly: redrawn less often

STATUS_TEXT = {
    QUEUED: "waiting for a free trainer",
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

limits = state.host_limits()
torch_ok = state.torch_available()
state.warm_up_plotly()      # once per server: the first live chart after a click is then quick


def run_label(run) -> str:
    return run.name.split(" · ")[0]


def model_file(twin, activation: str, kind: str) -> bytes:
    """A twin's current weights as a .npz or .pt file (made only when the button is clicked)."""
    return model_bytes(twin.params(), activation, kind)


def settings_now() -> dict:
    """The settings as the widgets hold them right now."""
    return {name: st.session_state[WIDGET + name] for name in ts.default_settings()}


# ---- button callbacks (they run before the page, so the page draws the new state) ---------------
def on_train(impls: tuple) -> None:
    st.session_state.pop(LINK_WARNING, None)
    try:
        config = ts.config_from_settings(settings_now()).validated(limits)
    except UserError:
        return      # the page shows this error under the settings already
    try:
        run = state.start_run(config, impls)
    except UserError as e:
        st.session_state[START_ERROR] = str(e)
        return
    state.wait_for_first_record(run)      # so the page drawn next already shows the first point


def on_control(action: str) -> None:
    run = state.current_run()
    if run is not None:
        getattr(run, action)()      # run.pause(), run.resume(), run.step() or run.stop()
        if action == "stop":
            run.join(timeout=2)     # the threads end within a step: the page then shows "stopped"


# ---- the live part: redrawn every LIVE_EVERY seconds while a run is active (less often when the ----
# ---- server is busy: charts.redraw_every); gradients and weights every SLOW_EVERY seconds ---------
def show_status(run, series: dict) -> None:
    status = run.status
    st.markdown(f"#### {run_label(run)}: {STATUS_TEXT[status]}")
    if status == QUEUED:
        st.info(f"waiting for a free trainer: you are number {run.queue_place()} in the queue")
    for column, (impl, s) in zip(st.columns(len(series)), series.items()):
        fraction, text = charts.progress(run, s)
        column.progress(fraction, text=text)
    for impl, message in run.messages().items():
        show = st.error if impl in run.errors else MESSAGE_BOX.get(series[impl].last_event, st.info)
        show(f"{charts.TWIN_NAMES[impl]} twin: {message}")


def live_charts(run, polling: bool) -> None:
    if run is None:     # empty charts: the browser loads plotly before the first click, not after
        series = {}
        st.info("Press **Train both** to start. Small settings (hidden 32, 2 epochs) finish in seconds.")
    else:
        series = charts.series_for(run, st.session_state.setdefault(SERIES, {}))
        show_status(run, series)

    left, right = st.columns(2)
    left.plotly_chart(charts.ready(charts.loss_figure(series)), key="train_chart_loss")
    left.caption(teaching.NOTICE["loss"])
    right.plotly_chart(charts.ready(charts.accuracy_figure(series)), key="train_chart_accuracy")
    right.caption(teaching.NOTICE["accuracy"])

    left, right = st.columns(2)
    gap = charts.twin_gap(series)
    if gap is None:
        left.info("The **twin gap** compares the two twins step by step: press **Train both** to see it.")
    else:
        left.plotly_chart(charts.ready(charts.gap_figure(gap)), key="train_chart_gap")
        left.caption(teaching.NOTICE[f"gap_{run.config.dtype}"]
                     + f" Identical at {gap.identical:,} of {len(gap.gap):,} steps.")
    right.plotly_chart(charts.ready(charts.speed_figure(series)), key="train_chart_speed")
    right.caption(teaching.NOTICE["speed"])

    if polling and run.finished and st.session_state.get(CAUGHT_UP) != run.id:
        # One full rerun per run: buttons, run history and sidebar catch up and polling stops. Only
        # one: on a busy server a rerun can wait behind others, and every timer tick asking again
        # would pile reruns up.
        st.session_state[CAUGHT_UP] = run.id
        st.rerun()


def slow_charts(run) -> None:
    """The charts that change slowly: gradient size per layer, then the first layer's weights."""
    series = {} if run is None else charts.series_for(run, st.session_state.setdefault(SERIES, {}))
    st.plotly_chart(charts.ready(charts.grad_norm_figure(series)), key="train_chart_grad")
    st.caption(teaching.NOTICE["gradients"])
    if run is not None:
        weight_images(run)


def weight_images(run) -> None:
    st.subheader("What the first layer looks for")
    trained = [impl for impl in run.impls if impl in run.twins]
    if not trained:
        st.caption("The weight images appear when the first twin starts.")
        return
    impl = st.radio("Weights of", trained, format_func=charts.TWIN_NAMES.get, horizontal=True,
                    key=f"train.weights_twin.{run.id}")
    first_layer_weights = run.twins[impl].params()[0][0]            # (784, units)
    unit = "unit" if run.config.hidden else "digit"
    st.plotly_chart(charts.ready(charts.weights_figure(first_layer_weights, unit)), key="train_chart_weights")
    st.caption(teaching.NOTICE["weights"].format(
        unit=unit, shown=charts.tiles_shown_text(first_layer_weights, unit),
        blank=charts.never_inked(run.split.x_train)))


# ---- page ------------------------------------------------------------------------------------
st.title("Train & compare")
st.caption("The NumPy twin and the PyTorch twin train the same network, from the same starting "
           "weights, on the same mini-batches in the same order. Their curves should overlap.")

# Settings: taken from the link (query string) on the first visit, then kept in session state.
if SETTINGS not in st.session_state:
    st.session_state[SETTINGS], ignored = ts.settings_from_query(st.query_params.to_dict(), limits)
    if ignored:
        st.session_state[LINK_WARNING] = ("Some settings in this link could not be used, so their "
                                          "defaults are shown instead: " + "; ".join(ignored))
for name, value in st.session_state[SETTINGS].items():
    st.session_state.setdefault(WIDGET + name, value)     # widgets forget their values off-page
if LINK_WARNING in st.session_state:
    st.warning(st.session_state[LINK_WARNING])

with st.container(border=True):
    c1, c2, c3, c4 = st.columns(4)
    c1.text_input("Hidden layer sizes", key=WIDGET + "hidden", help=ts.HELP["hidden"])
    c1.selectbox("Activation", ACTIVATION_NAMES, key=WIDGET + "activation", help=ts.HELP["activation"])
    c1.selectbox("Initialisation", INIT_NAMES, key=WIDGET + "init", help=ts.HELP["init"])
    c2.selectbox("Optimizer", OPTIMIZER_NAMES, key=WIDGET + "optimizer", help=ts.HELP["optimizer"])
    # No min_value on the number fields: the browser would keep the old value while showing the
    # typed one. Any number reaches the page, whose check (below) names it, and Train refuses it.
    c2.number_input("Learning rate", step=0.01, format="%g", key=WIDGET + "lr", help=ts.HELP["lr"])
    c2.number_input("Batch size (0 = full batch)", step=16, key=WIDGET + "batch_size",
                    help=ts.HELP["batch_size"])
    c3.number_input("Epochs", step=1, key=WIDGET + "epochs",
                    help=f"Passes over the training rows (this server allows up to {limits.max_epochs}).")
    c3.number_input("L2 weight decay", step=1e-4, format="%g", key=WIDGET + "l2",
                    help=ts.HELP["l2"])
    c3.number_input("Dropout", step=0.05, format="%g", key=WIDGET + "dropout",
                    help=ts.HELP["dropout"])
    c4.number_input("Seed", step=1, key=WIDGET + "seed", help=ts.HELP["seed"])
    c4.toggle("float64", key=WIDGET + "float64", help=ts.HELP["float64"])

settings = settings_now()
st.session_state[SETTINGS] = settings
try:
    ts.config_from_settings(settings).validated(limits)
except UserError as e:
    st.error(str(e))
else:
    query = ts.settings_to_query(settings)
    if st.query_params.to_dict() != query:
        st.query_params.from_dict(query)     # the address bar now holds a shareable preset

run = state.current_run()
active = run is not None and not run.finished
buttons = st.columns([1.2, 1, 1, 0.4, 1, 1, 1, 1])
torch_help = None if torch_ok else state.TORCH_MISSING
buttons[0].button("Train both", type="primary", on_click=on_train, args=(("numpy", "torch"),),
                  disabled=not torch_ok, help=torch_help, key="train.b.both")
buttons[1].button("NumPy only", on_click=on_train, args=(("numpy",),), key="train.b.numpy")
buttons[2].button("PyTorch only", on_click=on_train, args=(("torch",),), disabled=not torch_ok,
                  help=torch_help, key="train.b.torch")
buttons[4].button("Pause", on_click=on_control, args=("pause",), key="train.b.pause",
                  disabled=not active or run.paused)
buttons[5].button("Resume", on_click=on_control, args=("resume",), key="train.b.resume",
                  disabled=not active or not run.paused)
buttons[6].button("Step", on_click=on_control, args=("step",), key="train.b.step", disabled=not active,
                  help="Pause, then let each twin take exactly one more step.")
buttons[7].button("Stop", on_click=on_control, args=("stop",), key="train.b.stop", disabled=not active)
if not torch_ok:
    st.info(f"{state.TORCH_MISSING}. Until then, **NumPy only** trains the NumPy twin alone.")
if START_ERROR in st.session_state:
    st.error(st.session_state.pop(START_ERROR))

busy = state.trainer_pool().runs_here() if active else 0
st.fragment(run_every=charts.redraw_every(LIVE_EVERY, busy) if active else None)(live_charts)(run, active)
st.fragment(run_every=charts.redraw_every(SLOW_EVERY, busy) if active else None)(slow_charts)(run)

# ---- run history ------------------------------------------------------------------------------
all_runs = state.runs()
if all_runs:
    st.header("Run history")
    cache = st.session_state.setdefault(SERIES, {})
    st.dataframe(charts.history_table(all_runs, cache), hide_index=True, width="stretch",
                 column_config={"NumPy val acc": st.column_config.NumberColumn(format="percent"),
                                "PyTorch val acc": st.column_config.NumberColumn(format="percent")})
    by_label = {run_label(r): r for r in all_runs}
    finished = [label for label, r in by_label.items() if r.finished]
    chosen = st.multiselect("Overlay the curves of", finished, default=finished[-2:],
                            key=f"train.overlay.{len(finished)}",     # a run ends: the newest two
                            help="Runs that have ended; x is in epochs, so runs with different "
                            "batch sizes line up.")
    if chosen:
        frame = charts.history_frame([by_label[label] for label in chosen], cache)
        left, right = st.columns(2)
        left.plotly_chart(charts.history_figure(frame, "batch loss"), key="train_history_loss")
        right.plotly_chart(charts.history_figure(frame, "validation accuracy"), key="train_history_acc")
        st.caption(teaching.NOTICE["history"])

    label = st.selectbox("Download the files of", list(reversed(by_label)),
                         key=f"train.download_run.{len(all_runs)}")      # a new run: newest first
    picked = by_label[label]
    name = label.replace(" ", "-")
    downloads = st.columns(5)
    downloads[0].download_button("Metrics CSV", data=functools.partial(charts.records_csv, picked),
                                 file_name=f"{name}-metrics.csv", mime="text/csv", on_click="ignore",
                                 icon=":material/download:", key=f"train.dl.csv.{picked.id}")
    kinds = (".npz", ".pt") if torch_ok else (".npz",)
    column = 1
    for impl, twin in list(picked.twins.items()):
        for kind in kinds:
            data = functools.partial(model_file, twin, picked.config.activation, kind)
            downloads[column].download_button(
                f"{charts.TWIN_NAMES[impl]} model {kind}", data=data, on_click="ignore",
                file_name=f"{name}-{impl}{kind}", icon=":material/download:",
                key=f"train.dl.{impl}{kind}.{picked.id}")
            column += 1

"""Experiments: several runs that differ in exactly one setting, trained live side by side; and the
learning-rate finder. The page reads widgets and draws; nn_core.experiments and nn_core.lr_find do
the work, in the app's trainer processes."""

import streamlit as st

from app_support import experiment_figures as ef
from app_support import experiment_form as form
from app_support import figures, series, server, session, train_form
from app_support import train_settings as ts
from nn_core.errors import UserError
from nn_core.experiments import MAX_VALUES, MIN_VALUES, PRESETS, VARIABLES, verdict
from nn_core.lr_find import END_LR, RULE, START_LR, STOP_FACTOR, find_lr
from nn_core.pool import PoolError

W = form.WIDGET
SERIES = "experiments.series"        # run id -> impl -> series.TwinSeries
FINDING = "experiments.lr_finding"   # (Finding, the settings it was found with)
PROBLEM = "experiments.problem"      # why the last click did not start anything
CAUGHT_UP = "experiments.caught_up"  # the runs whose end already triggered the one full rerun
LIVE_EVERY = 1.0


def on_run() -> None:
    settings = form.settings_now()
    try:
        form.start(form.experiment_from(settings), settings["twin"])
    except UserError as e:
        st.session_state[PROBLEM] = str(e)


def on_find_lr() -> None:
    settings = form.settings_now()
    try:
        config = ts.config_from_settings(settings).validated(server.host_limits())
        finding = server.trainer_call(find_lr, config, session.split_for(config), settings["twin"])
    except (UserError, PoolError) as e:
        st.session_state[PROBLEM] = str(e)
        return
    st.session_state[FINDING] = (finding, settings)


def on_stop() -> None:
    for run in st.session_state[form.CURRENT].runs:
        run.stop()


def ended_early(run) -> str | None:
    """Why a run ended before its last epoch (stopped, interrupted, diverged...), if it says so."""
    if run.finished and run.status != "done":
        return " ".join(sorted(set(run.messages().values()))) or None
    return None


def live(current, polling: bool) -> None:
    """Status, overlaid curves, results table and verdict; redrawn every second while runs train."""
    labels = current.experiment.labels
    for column, run, label in zip(st.columns(len(labels)), current.runs, labels):
        column.caption(f"**{label}**: {ended_early(run) or run.status}"
                       + (f" (number {run.queue_place()} in the queue)" if run.queue_place() else ""))
    frame = ef.curves_frame(current.runs, st.session_state.setdefault(SERIES, {}))
    left, right = st.columns(2)
    left.plotly_chart(figures.ready(ef.curves_figure(frame, "batch loss", labels)), key="experiments_chart_loss")
    right.plotly_chart(figures.ready(ef.curves_figure(frame, "validation accuracy", labels)),
                       key="experiments_chart_accuracy")
    results = current.results()
    st.dataframe(ef.results_frame(results), hide_index=True, width="stretch", placeholder="—",  # not "None"
                 column_config={"final val acc": st.column_config.NumberColumn(format="percent"),
                                "step-1 loss": st.column_config.NumberColumn(format="%.6f"),
                                "time (s)": st.column_config.NumberColumn(format="%.1f"),
                                "samples/s": st.column_config.NumberColumn(format="%.0f")})
    if current.active:
        st.caption("The verdict comes when every run has ended.")
    else:
        st.success(verdict(results))
    run_ids = [run.id for run in current.runs]
    if polling and not current.active and st.session_state.get(CAUGHT_UP) != run_ids:
        st.session_state[CAUGHT_UP] = run_ids       # one full rerun: buttons catch up, polling stops
        st.rerun()


st.title("Experiments")
st.caption("Several runs that differ in exactly one setting. They share the seed, so they start from "
           "the same weights wherever the layer sizes agree and see the same mini-batches in the same "
           "order: whatever differs in their curves comes from that one setting.")
form.load_settings()
if form.LINK_WARNING in st.session_state:
    st.warning(st.session_state.pop(form.LINK_WARNING))

st.markdown("**Classic lessons** (one click fills the form):")
for column, (name, preset) in zip(st.columns(len(PRESETS)), PRESETS.items()):
    column.button(preset.title, on_click=form.apply_preset, args=(name,), help=preset.lesson,
                  key=f"experiments.preset.{name}", width="stretch")

with st.container(border=True):
    c1, c2, c3 = st.columns([1, 2, 1])
    c1.selectbox("Setting to vary", list(VARIABLES), key=W + "vary")
    c2.text_input(f"Values ({MIN_VALUES} to {MAX_VALUES}, separated by commas)", key=W + "values",
                  help="For hidden layers, join the widths of one value with '-': 128-64,32,none.")
    c3.radio("Twin", list(form.TWINS), format_func=form.TWINS.get, key=W + "twin", horizontal=True)
    with st.expander("Everything else (held equal)"):
        columns = st.columns(4)
        for column, kind, label, name, options in form.BASE_WIDGETS:
            getattr(columns[column], kind)(label, key=W + name, help=ts.HELP.get(name), **options)

settings = form.settings_now()
try:
    experiment = form.experiment_from(settings)
except UserError as e:
    experiment = None
    st.error(str(e))
else:
    form.keep_in_url(settings)
    preset = PRESETS.get(st.query_params.get("preset"))
    st.caption(experiment.held_equal() + (f" **What to look for:** {preset.lesson}" if preset else ""))

current = form.current()
active = current is not None and current.active
buttons = st.columns([1, 1, 4])
buttons[0].button("Run the experiment", type="primary", on_click=on_run, disabled=experiment is None,
                  key="experiments.run")
buttons[1].button("Stop", on_click=on_stop, disabled=not active, key="experiments.stop")
if PROBLEM in st.session_state:
    st.error(st.session_state.pop(PROBLEM))
if current is not None:
    st.markdown(f"**Your experiment {current.number}** ({form.TWINS[current.impl]} twin): "
                + ", ".join(current.experiment.labels))
    server.live_fragment(live, LIVE_EVERY if active else None)(current, active)

st.header("Learning-rate finder")
st.caption(f"From fresh weights, one mini-batch per step, the learning rate rises exponentially from "
           f"{START_LR:g} to {END_LR:g}; the test stops once the smoothed loss passes {STOP_FACTOR:g} "
           "times its lowest value. It uses the settings above (not the setting to vary) and the chosen twin.")
st.button("Find a learning rate", on_click=on_find_lr, key="experiments.find_lr")
if FINDING in st.session_state:
    finding, used = st.session_state[FINDING]
    st.plotly_chart(ef.lr_finder_figure(finding), key="experiments_chart_lr")
    st.info(f"{finding.message} {RULE}")
    if finding.suggested_lr is not None and st.button(
            f"Use this learning rate ({finding.suggested_lr:.2g}) on Train & compare",
            key="experiments.use_lr"):
        st.session_state.pop(train_form.SETTINGS, None)  # so Train & compare reads the link again
        used = used | {"lr": float(f"{finding.suggested_lr:.2g}")}
        st.switch_page("app_pages/train.py", query_params=ts.settings_to_query(used))

"""The sidebar's one-line run status, kept in step with the page.

The status is read when the script draws the sidebar, before the page. A run can end between that
moment and the page's own look at it (a diverging run ends within a few steps of the click), and the
page then shows "diverged" under a sidebar still saying "running". So while a run is active the line
is a small fragment that rereads the status every SIDEBAR_EVERY seconds; when it sees the run end it
asks for one full rerun, so every part of the page, and its polling, catches up. While the
student's latest experiment trains (Experiments page), a second line gives its runs' statuses.
"""

import streamlit as st

from app_support import server, session
from app_support.session import CAUGHT_UP    # shared with the Train page's live charts

SIDEBAR_EVERY = 1.0


def status_line(run) -> str:
    return f"**Run:** {run.label} · {run.status}" if run else "**Run:** none yet"


def experiment_line(experiment) -> str:
    """'**Experiment 2:** running, running, queued': one status per run, in the experiment's order."""
    return f"**Experiment {experiment.number}:** " + ", ".join(run.status for run in experiment.runs)


def run_status(run, polling: bool, experiment=None) -> None:
    """The status lines; polling: whether the run was active when the script ran (so the lines are
    redrawn on a timer); experiment: the student's latest, if it was training then (also redrawn)."""
    st.caption(status_line(run))
    if experiment is not None:
        st.caption(experiment_line(experiment))
    if polling and run.finished and st.session_state.get(CAUGHT_UP) != run.id:
        st.session_state[CAUGHT_UP] = run.id
        st.rerun()
    if experiment is not None and not experiment.active:
        st.rerun()             # it ended: one full rerun, which no longer shows it, and polling stops


def show_run_status() -> None:
    run = session.current_run()
    experiment = session.latest_experiment()
    if experiment is not None and not experiment.active:
        experiment = None
    run_active = run is not None and not run.finished
    # Less often when the server is busy, like the Train page's live charts (server.redraw_every).
    every = (server.redraw_every(SIDEBAR_EVERY, server.trainer_pool().runs_here())
             if run_active or experiment is not None else None)
    with st.sidebar:
        server.live_fragment(run_status, every)(run, run_active, experiment)

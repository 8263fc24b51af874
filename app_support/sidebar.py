"""The sidebar's one-line run status, kept in step with the page.

The status is read when the script draws the sidebar, before the page. A run can end between that
moment and the page's own look at it (a diverging run ends within a few steps of the click), and the
page then shows "diverged" under a sidebar still saying "running". So while a run is active the line
is a small fragment that rereads the status every SIDEBAR_EVERY seconds; when it sees the run end it
asks for one full rerun, so every part of the page, and its polling, catches up.
"""

import streamlit as st

from app_support import server, session
from app_support.session import CAUGHT_UP    # shared with the Train page's live charts

SIDEBAR_EVERY = 1.0


def status_line(run) -> str:
    return f"**Run:** {run.label} · {run.status}" if run else "**Run:** none yet"


def run_status(run, polling: bool) -> None:
    """The status line; polling: whether it is being redrawn on a timer (the run was active)."""
    st.caption(status_line(run))
    if polling and run.finished and st.session_state.get(CAUGHT_UP) != run.id:
        st.session_state[CAUGHT_UP] = run.id
        st.rerun()


def show_run_status() -> None:
    run = session.current_run()
    active = run is not None and not run.finished
    # Less often when the server is busy, like the Train page's live charts (server.redraw_every).
    every = server.redraw_every(SIDEBAR_EVERY, server.trainer_pool().runs_here()) if active else None
    with st.sidebar:
        st.fragment(run_every=every)(run_status)(run, active)

"""Router of the app: page setup, a one-line sidebar status, and the list of pages.

Run it with: streamlit run streamlit_app.py
"""

import streamlit as st

from app_support.turns import drawing_turn      # standard library only: the first page comes fast

st.set_page_config(page_title="Two twins: an MLP in NumPy and PyTorch", page_icon="🧠", layout="wide")

pages = [
    st.Page("app_pages/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("app_pages/data.py", title="Data", icon=":material/table:"),
    st.Page("app_pages/train.py", title="Train & compare", icon=":material/model_training:"),
    st.Page("app_pages/experiments.py", title="Experiments", icon=":material/science:"),
    st.Page("app_pages/inside.py", title="Inside the network", icon=":material/hub:"),
    st.Page("app_pages/health.py", title="Network health", icon=":material/monitor_heart:"),
    st.Page("app_pages/step.py", title="One training step", icon=":material/footprint:"),
    st.Page("app_pages/try_it.py", title="Try it", icon=":material/draw:"),
    st.Page("app_pages/gradient_check.py", title="Gradient check", icon=":material/rule:"),
    st.Page("app_pages/speed.py", title="Speed", icon=":material/speed:"),
]
page = st.navigation(pages)


def after_the_page():
    """The sidebar's status lines and this student's cookie, and, once per server process, the
    trainer processes (started in the background: half of them import torch, this process never
    does) and the shipped digits.

    Done after the page, so that on a fresh server the first visitor sees the page before NumPy,
    pandas and the engine are imported here (about a second on a small machine)."""
    from app_support import identity, server, session, sidebar
    server.trainer_pool()
    dataset = session.current_dataset()
    st.sidebar.caption(f"**Data:** {dataset.name} · {len(dataset):,} rows")
    sidebar.show_run_status()
    if session.store_problem():
        st.sidebar.warning(session.store_problem())
    with st.sidebar:
        identity.keep_in_browser()      # this student's token, kept in a cookie for the next page load


with drawing_turn():           # one page drawn at a time: see app_support/turns.py
    try:
        page.run()
    finally:            # also after a page that ends early (st.stop)
        after_the_page()

"""Router of the app: page setup, a one-line sidebar status, and the list of pages.

Run it with: streamlit run streamlit_app.py
"""

import streamlit as st

from app_support import identity, sidebar, state

st.set_page_config(page_title="Two twins: an MLP in NumPy and PyTorch", page_icon="🧠", layout="wide")

# Once per server process: the trainer processes start in the background now (they import torch,
# this process never does), so they are ready by the time someone clicks Train (state.trainer_pool).
# The shipped digits are loaded here too, so the first run does not wait for them.
state.trainer_pool()
state.shipped_dataset()

pages = [
    st.Page("app_pages/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("app_pages/data.py", title="Data", icon=":material/table:"),
    st.Page("app_pages/train.py", title="Train & compare", icon=":material/model_training:"),
    st.Page("app_pages/inside.py", title="Inside the network", icon=":material/hub:"),
    st.Page("app_pages/step.py", title="One training step", icon=":material/footprint:"),
    st.Page("app_pages/try_it.py", title="Try it", icon=":material/draw:"),
    st.Page("app_pages/gradient_check.py", title="Gradient check", icon=":material/rule:"),
    st.Page("app_pages/speed.py", title="Speed", icon=":material/speed:"),
]
page = st.navigation(pages)

dataset = state.current_dataset()
st.sidebar.caption(f"**Data:** {dataset.name} · {len(dataset):,} rows")
sidebar.show_run_status()
if state.store_problem():
    st.sidebar.warning(state.store_problem())
with st.sidebar:
    identity.keep_in_browser()      # this student's token, kept in a cookie for the next page load

page.run()

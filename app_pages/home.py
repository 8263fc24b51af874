"""Home: what the app teaches, the data in use, and a 30-second guided start."""

import streamlit as st

from app_support import teaching

st.title("One network, two twins")
st.markdown(
    "This app trains **the same small neural network twice, side by side**: once written from "
    "scratch in **NumPy** (every derivative by hand), once in **PyTorch** (autograd does the "
    "derivatives). Both twins start from the same weights, see the same mini-batches in the same "
    "order, drop the same units when dropout is on, and use the same optimiser formulas, so "
    "**their curves should lie on top of each other**. When they do, the hand-written "
    f"backpropagation is right; the tiny gap that remains ({teaching.GAP_FLOAT32}) is rounding: "
    f"{teaching.PRECISION}."
)

from app_support import session  # noqa: E402  (here, not above: the first page of a fresh server shows at once)

dataset = session.current_dataset()
st.info(f"**Data in use:** {dataset.name} · {teaching.plural(len(dataset), 'handwritten digit')} (28×28 pixels). "
        "Change it on the Data page.", icon=":material/table:")

st.subheader("Start in 30 seconds")
st.markdown(
    "1. Open **Train & compare** and press **Train both**.\n"
    "2. Watch the two loss curves fall together from about 2.30 (ln 10), and the *twin gap* stay "
    f"{teaching.GAP_FLOAT32}. Turn on **float64** and train again: the gap drops to "
    f"{teaching.GAP_FLOAT64}.\n"
    "3. Open **Try it**, draw a digit and see what the trained network thinks it is."
)
st.page_link("app_pages/train.py", label="Train & compare: start here", icon=":material/model_training:")

st.subheader("What each page shows")
st.page_link("app_pages/data.py", label="Data: choose the digits, look at them", icon=":material/table:")
st.page_link("app_pages/train.py", label="Train & compare: both twins train live, curves side by side",
             icon=":material/model_training:")
st.page_link("app_pages/experiments.py", label="Experiments: runs that differ in one setting, trained side by "
             "side; and a learning-rate finder", icon=":material/science:")
st.page_link("app_pages/inside.py", label="Inside the network: activations and weights of a trained model",
             icon=":material/hub:")
st.page_link("app_pages/health.py", label="Network health: watch each layer's weights, gradients and units "
             "while a run trains", icon=":material/monitor_heart:")
st.page_link("app_pages/step.py", label="One training step: one digit through forward, loss, backward "
             "and the optimizer's update, every number checked against autograd", icon=":material/footprint:")
st.page_link("app_pages/try_it.py", label="Try it: draw or upload a digit and classify it",
             icon=":material/draw:")
st.page_link("app_pages/gradient_check.py",
             label="Gradient check: hand-written backprop vs autograd vs finite differences",
             icon=":material/rule:")
st.page_link("app_pages/speed.py", label="Speed: samples per second, NumPy vs PyTorch",
             icon=":material/speed:")

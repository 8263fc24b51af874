"""Inside the network: one digit through a trained network, layer by layer, forwards and backwards."""

import numpy as np
import pandas as pd
import streamlit as st

from app_support import figures
from app_support.models import choose_source
from nn_core import walkthrough

HISTOGRAM_BATCH = 256      # validation digits whose mean loss the gradient histograms differentiate


def preview(values) -> str:
    return ", ".join(f"{v:.4g}" for v in values) + (", …" if len(values) == walkthrough.PREVIEW else "")


def histogram_frame(arrays: list, names: list) -> pd.DataFrame:
    """Long table of pre-binned histograms: one block of bins per layer."""
    blocks = []
    for name, values in zip(names, arrays):
        centres, counts = walkthrough.histogram(values)
        blocks.append(pd.DataFrame({"layer": name, "value": centres, "count": counts}))
    return pd.concat(blocks, ignore_index=True)


st.title("Inside the network")
st.write("Pick a trained network and a digit it never trained on, then follow the numbers: "
         "what each layer computes on the way forward, and how backpropagation sends the error back.")

source = choose_source("inside")
if source is None:
    st.stop()
if source.x_val is None:
    st.error(source.val_note)
    st.stop()

twin = st.radio("Twin", list(source.models), horizontal=True, key="inside.twin",
                help="Both twins start from the same weights and see the same batches, so their "
                     "numbers agree to rounding.") if len(source.models) > 1 else next(iter(source.models))
model = source.models[twin]
n_val = len(source.y_val)
if st.session_state.get("inside.index", 0) >= n_val:      # a smaller validation set than before
    st.session_state["inside.index"] = n_val - 1
index = st.slider("Validation digit", 0, n_val - 1, key="inside.index", help=f"From {source.val_note}.")
x, label = source.x_val[index], int(source.y_val[index])
activations = walkthrough.layer_activations(model, x)
probs = activations[-1][1]

left, right = st.columns([1, 2])
with left:
    st.plotly_chart(figures.digit_figure(np.asarray(x) * 255, f"true digit: {label}"), key="inside.digit")
with right:
    predicted = int(probs.argmax())
    verdict = "correct" if predicted == label else f"wrong: it is a {label}"
    st.markdown(f"#### {twin} predicts **{predicted}** (p = {probs.max():.3f}), {verdict}")
    st.plotly_chart(figures.probabilities_figure({twin: probs}), key="inside.probs")

st.subheader("Activations of every layer")
st.caption(f"Layer sizes {' → '.join(str(n) for n in model.layer_sizes)}; one cell per unit, "
           "brighter = larger.")
for i, (name, values) in enumerate(activations[:-1]):
    st.plotly_chart(figures.activation_figure(name, values), key=f"inside.act{i}")

st.subheader("The forward and backward pass, with the real numbers")
steps = walkthrough.forward_backward_trace(model, x, label)
phases = {"forward": "Forward pass", "loss": "Loss", "backward": "Backward pass (backpropagation)"}
for phase, title in phases.items():
    with st.expander(title, expanded=True):
        for step in (s for s in steps if s["phase"] == phase):
            st.latex(step["equation_latex"])
            if step["shape"] == "scalar":
                details = f"**{step['name']}** = {step['values_preview'][0]:.4g}"
            else:
                details = (f"**{step['name']}** · shape {step['shape']} · norm {step['norm']:.4g}"
                           f" · first values: {preview(step['values_preview'])}")
            if step["note"]:
                details += f" · {step['note']}"
            st.markdown(details)
st.caption("B is the batch size (1 here: one digit). ⊙ multiplies entry by entry. Each gradient has "
           "the shape of what it differentiates: dW like W, db like b. An optimiser step then does "
           "W ← W − lr · dW.")

st.subheader("Weights and gradients, per layer")
layer_names = [f"layer {i + 1} ({W.shape[0]}→{W.shape[1]})" for i, (W, _) in enumerate(model.params)]
st.plotly_chart(figures.histograms_figure(histogram_frame([W for W, _ in model.params], layer_names),
                                          "weights W"), key="inside.w_hist")
batch = slice(0, min(HISTOGRAM_BATCH, n_val))
grads = walkthrough.batch_gradients(model, source.x_val[batch], source.y_val[batch])
st.plotly_chart(figures.histograms_figure(histogram_frame([dW for dW, _ in grads], layer_names),
                                          f"gradients dW of the mean loss over {batch.stop} validation digits"),
                key="inside.g_hist")
st.caption("Healthy training keeps the weights spread around 0 and the gradients small but not all "
           "zero. Gradients piled at exactly 0 in a ReLU layer mean units that no digit switches on.")

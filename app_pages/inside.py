"""Inside the network: one digit through a trained network, layer by layer; weights and gradients per layer."""

import numpy as np
import pandas as pd
import streamlit as st

from app_support import figures, teaching
from app_support.models import choose_model_and_digit
from nn_core import walkthrough

HISTOGRAM_BATCH = 256      # validation digits whose mean loss the gradient histograms differentiate


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

source, twin, model, x, label = choose_model_and_digit("inside")
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
    st.caption(teaching.NOTICE["probabilities"])

st.subheader("Activations of every layer")
st.caption(f"Layer sizes {' → '.join(str(n) for n in model.layer_sizes)}. "
           + teaching.NOTICE["activations"])
for i, (name, values) in enumerate(activations[:-1]):
    st.plotly_chart(figures.activation_figure(name, values), key=f"inside.act{i}")

st.page_link("app_pages/step.py", label="Follow one digit through a whole training step: forward, "
             "loss, backward and the optimizer's update, with every number", icon=":material/footprint:")

st.subheader("Weights and gradients, per layer")
layer_names = [f"layer {i + 1} ({W.shape[0]}→{W.shape[1]})" for i, (W, _) in enumerate(model.params)]
st.plotly_chart(figures.histograms_figure(histogram_frame([W for W, _ in model.params], layer_names),
                                          "weights W"), key="inside.w_hist")
batch = slice(0, min(HISTOGRAM_BATCH, len(source.y_val)))
grads = walkthrough.batch_gradients(model, source.x_val[batch], source.y_val[batch])
st.plotly_chart(figures.histograms_figure(histogram_frame([dW for dW, _ in grads], layer_names),
                                          f"gradients dW of the mean loss over {batch.stop} validation digits"),
                key="inside.g_hist")
st.caption(teaching.NOTICE["histograms"].format(zero_rows=walkthrough.zero_rows(grads[0][0])))

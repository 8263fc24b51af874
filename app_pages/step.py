"""One training step: one real digit through forward -> loss -> backward -> update, stage by stage,
with every formula, shape and number; then one hidden unit up close. The maths is in
nn_core.walkthrough; this page only draws it."""

import numpy as np
import pandas as pd
import streamlit as st

from app_support import figures
from app_support.models import choose_model_and_digit
from nn_core import walkthrough
from nn_core.config import OPTIMIZER_NAMES, TrainConfig

STAGE = "step.stage"          # which stage is shown (plain key: kept across pages)
VERDICT_MARK = {"exact": "✓ exact", "close": "✓ close", "differs": "✗ differs"}


def entries(step: dict) -> str:
    """'Z[1][0, 17] = 2.31, …': the step's largest entries with where they sit."""
    return ", ".join(f"{step['name']}[{', '.join(map(str, index))}] = {value:.4g}"
                     for index, value in step["largest"])


def comparison_frame(rows: list) -> pd.DataFrame:
    return pd.DataFrame([{"gradient": r["name"], "shape": r["shape"], "NumPy vs autograd":
                          VERDICT_MARK[r["verdict"]], "largest difference": f"{r['max_diff']:.1e}"}
                         for r in rows])


def move(by: int, n_stages: int) -> None:
    st.session_state[STAGE] = min(max(st.session_state.get(STAGE, 0) + by, 0), n_stages - 1)


def show_stage(stage: dict, comparison: list | None) -> None:
    st.write(stage["text"])
    for step in stage["steps"]:
        st.latex(step["equation_latex"])
        if step["shape"] == "scalar":
            details = f"**{step['name']}** = {step['largest'][0][1]:.4g}"
        else:
            details = (f"**{step['name']}** · shape {step['shape']} · norm {step['norm']:.4g} · "
                       f"largest entries: {entries(step)}")
        if step["note"]:
            details += f" · {step['note']}"
        st.markdown(details)
    names = {step["name"] for step in stage["steps"]}
    rows = [r for r in comparison or [] if r["name"] in names]
    if rows:
        st.dataframe(comparison_frame(rows), hide_index=True)


def show_update(explained: dict, optimizer: str, lr: float) -> None:
    update = explained["update"]
    st.write(walkthrough.STAGE_TEXT["update"])
    st.latex(update["latex"] + rf", \quad \eta = {lr:g}")
    ex = update["example"]
    where = f"{ex['name']}[{', '.join(str(int(k)) for k in ex['index'])}]"
    state = "".join(f", then {symbol} = {value:.4g}" for symbol, value in ex["state"].items())
    st.markdown(f"**One weight, worked through:** {where}, the entry with the largest gradient: "
                f"w = {ex['w']:.6g}, g = {ex['g']:.4g}{state}; after the step w = "
                f"{ex['w_after']:.6g} (moved by {ex['w_after'] - ex['w']:+.4g}).")
    st.dataframe(pd.DataFrame(update["rows"]), hide_index=True,
                 column_config={c: st.column_config.NumberColumn(format="%.3e")
                                for c in ("|g|", "|Δw|", "|Δw| / |w|")})
    st.markdown(f"Loss on this digit: **{explained['loss_before']:.4f}** before the step, "
                f"**{explained['loss_after']:.4f}** after it ({optimizer}, lr {lr:g}).")


def show_unit(model, x, label, l2: float) -> None:
    first = model.params[0][0].shape[1]
    is_output = len(model.params) == 1
    what = "output unit (digit)" if is_output else "unit of hidden layer 1"
    unit = st.number_input(f"Which {what}", 0 if is_output else 1, first - (1 if is_output else 0),
                           0 if is_output else 1, key="step.unit")
    view = walkthrough.unit_view(model, x, label, int(unit) - (0 if is_output else 1), l2)
    cols = st.columns(4)
    cols[0].plotly_chart(figures.map_figure(view["weights"], "its 784 weights"), key="step.u.w")
    cols[1].plotly_chart(figures.map_figure(view["ink"], "this digit's ink", signed=False), key="step.u.x")
    cols[2].plotly_chart(figures.map_figure(view["contribution"], "ink × weight"), key="step.u.c")
    cols[3].plotly_chart(figures.map_figure(view["gradient"], "its weights' gradient"), key="step.u.g")
    f_of = "p (softmax)" if is_output else f"f(z) = {view['activation']}(z)"
    st.markdown(
        f"**Forward.** Each pixel's ink times its weight (third map; blue pushes z up, red down): "
        f"they add up to Σ = {view['total']:.4f}. Plus the bias b = {view['bias']:.4f}: "
        f"z = {view['z']:.4f}. Then {f_of} = **{view['a']:.4f}**. Black pixels hold no ink, so their "
        f"weights, whatever they are, add nothing.")
    if is_output:
        st.markdown(f"**Backward.** Softmax and cross-entropy together give dz = p − [unit = y] = "
                    f"{view['a']:.4f} − {int(int(unit) == label)} = **{view['dz']:.4g}**.")
    else:
        st.markdown(f"**Backward.** The gradient arriving from the layer above is dA = "
                    f"{view['incoming']:.4g}; the local derivative is f'(z) = {view['local']:.4g}; "
                    f"so dz = dA · f'(z) = **{view['dz']:.4g}**.")
    st.markdown("Each weight's gradient is its pixel's ink times dz (fourth map"
                + (", plus λ·w from L2" if l2 else "") + "): pixels without ink get exactly 0, "
                "which is why the border weights never change.")


st.title("One training step")
st.write("Take one real digit through everything a training step does: the forward pass, the loss, "
         "backpropagation, and the optimizer's update. Each stage shows its formula, its shapes and "
         "its real numbers, and every gradient is checked against PyTorch's autograd.")

source, twin, model, x, label = choose_model_and_digit("step")
left, right = st.columns(2)
config = source.run.config if source.run is not None else TrainConfig()
optimizer = left.selectbox("Optimizer", OPTIMIZER_NAMES, index=OPTIMIZER_NAMES.index(config.optimizer),
                         key="step.optimizer", help="The run's optimizer; pick another to compare rules.")
lr = right.number_input("Learning rate", min_value=1e-6, max_value=10.0, value=float(config.lr),
                     format="%g", key="step.lr")
explained = walkthrough.training_step(model, x, label, optimizer, float(lr), config.l2)
stages = explained["stages"]
n_stages = len(stages) + 1                                     # + the update
stage = min(st.session_state.get(STAGE, 0), n_stages - 1)
st.session_state[STAGE] = stage

left, right = st.columns([1, 3])
left.plotly_chart(figures.digit_figure(np.asarray(x) * 255, f"true digit: {label}"), key="step.digit")
with right:
    title = stages[stage]["title"] if stage < len(stages) else "Update: the optimizer's step"
    st.progress((stage + 1) / n_stages, text=f"Stage {stage + 1} of {n_stages}: {title}")
    prev, nxt, _ = st.columns([1, 1, 4])
    prev.button("Previous", on_click=move, args=(-1, n_stages), disabled=stage == 0, key="step.prev",
                icon=":material/arrow_back:")
    nxt.button("Next", on_click=move, args=(1, n_stages), disabled=stage == n_stages - 1,
               key="step.next", icon=":material/arrow_forward:", type="primary")
    st.markdown(f"#### {title}")
    if stage < len(stages):
        show_stage(stages[stage], explained["comparison"])
    else:
        show_update(explained, optimizer, float(lr))
st.caption(f"Computed in {explained['dtype']} on the {twin} weights, without dropout"
           + (f", with L2 λ = {config.l2:g}" if config.l2 else "") + ". ⊙ multiplies entry by "
           "entry; each gradient has the shape of what it differentiates: dW like W, db like b.")

with st.expander("Every gradient: hand-written NumPy vs PyTorch autograd"):
    if explained["comparison"] is None:
        st.info("PyTorch is not installed, so there is no autograd to compare with.")
    else:
        st.dataframe(comparison_frame(explained["comparison"]), hide_index=True)
        st.caption("As in Karpathy's backprop-ninja `cmp`: exact = every entry equal; close = "
                   "equal to np.allclose's tolerance (rounding only); the largest difference in "
                   "float64 is about 1e-16.")

st.subheader("One unit up close")
show_unit(model, x, label, config.l2)

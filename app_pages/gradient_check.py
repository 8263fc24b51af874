"""Gradient check: is the hand-written backpropagation right? Compare it with PyTorch's autograd and
with finite differences, on an architecture the learner picks."""

import math

import pandas as pd
import streamlit as st

from app_support import server, teaching
from nn_core import gradcheck
from nn_core.config import ACTIVATION_NAMES, TrainConfig, parse_hidden
from nn_core.errors import ConfigError, UserError

MAX_WIDTH = 256     # wider layers only make the check slower, not more convincing


NOT_CHECKED = "– not checked"   # no torch (autograd), or no entry could be probed (finite differences)


def verdict(error: float, tolerance: float) -> str:
    if math.isnan(error):
        return NOT_CHECKED
    return "✓ pass" if error <= tolerance else "✗ FAIL"


def error_text(error: float) -> str:
    return "-" if math.isnan(error) else f"{error:.2e}"


def report_table(report) -> pd.DataFrame:
    """One row per parameter, errors in scientific notation, pass/fail against each tolerance."""
    return pd.DataFrame([{
        "parameter": f"{row['param']}{row['layer']}",
        "shape": " × ".join(str(n) for n in row["shape"]),
        "backprop vs autograd": error_text(row["autograd_rel_err"]),
        f"autograd (≤ {gradcheck.AUTOGRAD_TOL:.0e})": verdict(row["autograd_rel_err"], gradcheck.AUTOGRAD_TOL),
        "backprop vs finite differences": error_text(row["finite_diff_rel_err"]),
        f"finite diff. (≤ {gradcheck.FINITE_DIFF_TOL:.0e})": verdict(row["finite_diff_rel_err"], gradcheck.FINITE_DIFF_TOL),
        "entries probed": row["probes"],
    } for row in report.rows])


st.title("Gradient check")
st.write("Backpropagation is a few lines of matrix algebra per layer, and one wrong transpose or a "
         "missing term still trains, just badly. So check it: compute the same gradients three ways.")
st.markdown(
    "- **Backprop** (`nn_core/numpy_mlp.py`): our hand-written chain rule, layer by layer.\n"
    "- **Autograd** (PyTorch): the same network and loss in PyTorch, which records every operation "
    "and differentiates the recording. Both are exact, so they may differ only by rounding: "
    f"≤ {gradcheck.AUTOGRAD_TOL:.0e}.\n"
    "- **Finite differences**: nudge one weight by ±ε and watch the loss, "
    "∂L/∂w ≈ (L(w + ε) − L(w − ε)) / 2ε. Needs no calculus at all, but is approximate, so the bar "
    f"is looser: ≤ {gradcheck.FINITE_DIFF_TOL:.0e}, on a random sample of entries per parameter.\n"
    "- **Why float64**: with ε = 10⁻⁶ the two nudged losses differ only by 2ε · ∂L/∂w, from about "
    "their 8th or 9th significant digit on (the result below says where, for your network). "
    f"{teaching.PRECISION}: in float32 the difference would be pure rounding noise.\n"
    "- The error shown is max |a − b| / max(|a| + |b|) over the entries compared: the largest "
    "difference against the largest gradient entry. A finite difference cannot resolve slopes finer "
    "than its own rounding noise (about 2·10⁻¹⁶ · L / ε ≈ 5·10⁻¹⁰), so tiny gradients, such as the "
    "first layers' in a deep sigmoid network, are measured against at least "
    f"{gradcheck.FD_NOISE_MARGIN} × that noise ÷ the tolerance: rounding noise never fails a row.")

with st.form("gradient_check.form"):
    c1, c2, c3, c4 = st.columns(4)
    hidden_text = c1.text_input("Hidden layer sizes", "16, 8", key="gradient_check.hidden",
                                help="Comma-separated, e.g. 16, 8; empty for no hidden layer.")
    activation = c2.selectbox("Activation", ACTIVATION_NAMES, key="gradient_check.activation")
    l2 = c3.number_input("L2 weight decay", 0.0, 10.0, 0.0, step=0.01, format="%.4f", key="gradient_check.l2")
    seed = c4.number_input("Seed", 0, 10_000, 0, key="gradient_check.seed")
    submitted = st.form_submit_button("Run the gradient check", type="primary")

if submitted:
    try:
        hidden = parse_hidden(hidden_text)
        TrainConfig(hidden=hidden, activation=activation, l2=l2, seed=int(seed)).validated(server.host_limits())
        if any(width > MAX_WIDTH for width in hidden):
            raise ConfigError(f"layers wider than {MAX_WIDTH} only make the check slower; use "
                              f"narrower layers (the maths is the same at any width).")
        with st.spinner("Computing the gradients three ways…"):
            st.session_state["gradient_check.report"] = (
                hidden, activation, l2,
                gradcheck.gradient_check(hidden=hidden, activation=activation, l2=l2, seed=int(seed)))
    except UserError as e:
        st.session_state.pop("gradient_check.report", None)   # no old table under the error
        st.error(str(e))

if "gradient_check.report" in st.session_state:
    hidden, activation, l2, report = st.session_state["gradient_check.report"]
    sizes = " → ".join(str(n) for n in (784, *hidden, 10))
    st.subheader(f"Network {sizes}, {activation}, L2 = {l2:g}")
    st.dataframe(report_table(report), hide_index=True)
    if not report.autograd_checked:
        st.warning("PyTorch is not installed, so only finite differences were compared.")
    if report.passed:
        st.success(f"Backprop passes: largest error {report.max_autograd:.1e} against autograd and "
                   f"{report.max_finite_diff:.1e} against finite differences.")
    else:
        st.error("Backprop disagrees with the other methods: at least one row fails its tolerance.")
    digit = report.first_differing_digit
    if digit is not None:
        st.caption(f"Here L(w + ε) and L(w − ε) (L ≈ {report.loss:.4f}) typically differ from their "
                   f"{teaching.ordinal(digit)} significant digit on; their rounding noise is about "
                   f"{report.fd_noise:.0e}.")
    st.caption("ReLU has a kink at 0: a probe whose ±ε nudge flips a unit on or off mixes two slopes, "
               "so it is skipped; 'entries probed' counts the ones compared. A row with no entry "
               "probed is not checked by finite differences, so it cannot fail; autograd still "
               "checks every entry of it.")

"""Speed: training samples per second, NumPy from scratch vs PyTorch, on the same network, and how
close each twin gets to this machine's measured matrix-multiply peak (GFLOP/s, % of peak)."""

import pandas as pd
import streamlit as st

from app_support import figures, server, teaching
from nn_core import bench
from nn_core.config import TrainConfig, parse_hidden
from nn_core.errors import UserError
from nn_core.pool import PoolError
from nn_core.threads import machine_cores, thread_report
from nn_core.twins import TWIN_NAMES

BATCH_SIZES = [16, 64, 256, 1024]


@st.cache_resource(show_spinner="Asking a trainer process about its threads…")
def trainer_threads() -> dict:
    """The thread pools of a trainer process, where both twins train and are timed (read there,
    once per server: every worker sets the same NN_THREADS)."""
    return server.trainer_call(thread_report, max_wait=5.0)


def threads_note(counts: dict) -> str:
    """How many CPU threads each twin really uses where it is timed: unequal counts tilt the comparison."""
    if counts["torch"] is None:
        return ""
    blas = "an unknown number of" if counts["blas"] is None else counts["blas"]
    fair = ("The counts are equal, so neither twin has more cores to work with."
            if counts["blas"] == counts["torch"] else "The counts differ, so the comparison tilts.")
    return (f"Both twins are timed in a trainer process of this server, where NumPy's BLAS uses {blas} "
            f"and PyTorch {counts['torch']} CPU thread(s), read from the thread pools themselves "
            f"(both set by NN_THREADS, default 1; this server may use {machine_cores()} CPU cores). {fair} "
            "A machine busy with other work tilts it too.")


@st.cache_resource(show_spinner="Measuring this machine's matrix-multiply speed in a trainer process…")
def measured_peak() -> dict:
    """This server's matrix-multiply peak, measured once per server in a trainer process (where the
    twins are timed, with the same thread caps); see nn_core.bench.matmul_peak."""
    return server.trainer_call(bench.matmul_peak)


CPU_TWINS = {**TWIN_NAMES, "torch": f"{TWIN_NAMES['torch']} (CPU)"}      # the table tells CPU from GPU
COLUMNS = ["batch size", "NumPy samples/s", "PyTorch (CPU) samples/s", "NumPy ÷ PyTorch",
           "NumPy GFLOP/s", "NumPy % of peak", "PyTorch (CPU) GFLOP/s", "PyTorch (CPU) % of peak"]


def speed_frame(rows, peak) -> pd.DataFrame:
    """Per batch size, on the CPU: each twin's median samples/s, GFLOP/s and share of the measured
    peak, and NumPy ÷ PyTorch (blank where a twin was not measured)."""
    table = {}
    for row in rows:
        if row["device"].startswith("cuda"):
            continue
        name = CPU_TWINS[row["impl"]]
        entry = table.setdefault(row["batch_size"], {"batch size": row["batch_size"]})
        entry[f"{name} samples/s"] = round(row["samples_per_s_median"])
        entry[f"{name} GFLOP/s"] = round(row["gflops"], 1)
        entry[f"{name} % of peak"] = f"{bench.peak_share(row, peak):.0%}"
    for ratio in bench.ratio_table([r for r in rows if not r["device"].startswith("cuda")]):
        table[ratio["batch_size"]]["NumPy ÷ PyTorch"] = (None if ratio["ratio"] is None
                                                         else f"{ratio['ratio']:.2f}×")
    return pd.DataFrame(list(table.values()), columns=COLUMNS)


st.title("Speed")
st.write("How many training examples per second does each twin get through? The same network, the "
         "same batches, the same optimiser (plain SGD), timed in turns so that a busy moment of the "
         "machine falls on both.")

try:
    report = trainer_threads()
except PoolError as e:                  # a class is training on every trainer process
    report = None
    st.warning(f"Could not ask a trainer process about its threads: {e}")
cuda = bool(report and report["cuda"])
with st.form("speed.form"):
    c1, c2, c3 = st.columns([2, 1, 1])
    batch_sizes = c1.multiselect("Batch sizes", BATCH_SIZES, default=[64, 256], key="speed.batches")
    hidden_text = c2.text_input("Hidden layer sizes", "128, 64", key="speed.hidden")
    rounds = c3.number_input("Rounds", 1, 10, 3, key="speed.rounds",
                             help="Each round times 30 steps per twin; the chart shows the median.")
    use_cuda = st.checkbox("Also PyTorch on the GPU", value=False, key="speed.cuda",
                           disabled=not cuda,
                           help=None if cuda else "Needs an NVIDIA GPU and a CUDA build of PyTorch.")
    submitted = st.form_submit_button("Measure", type="primary")

if submitted:
    try:
        hidden = parse_hidden(hidden_text)
        TrainConfig(hidden=hidden).validated(server.host_limits())
        if not batch_sizes:
            raise UserError("choose at least one batch size.")
        measure = server.trainer_call     # in a trainer process, where the twins train
        with st.spinner("Timing both twins in a trainer process…"):
            rows = measure(bench.measure_throughput, batch_sizes=sorted(batch_sizes), hidden=hidden,
                           rounds=int(rounds), steps=30, device="cpu")
            if use_cuda:
                rows += measure(bench.measure_throughput, batch_sizes=sorted(batch_sizes), hidden=hidden,
                                rounds=int(rounds), steps=30, impls=("torch",), device="cuda")
        st.session_state["speed.result"] = (hidden, rows, measured_peak())
    except (UserError, PoolError) as e:
        st.error(str(e))

if "speed.result" in st.session_state:
    hidden, rows, peak = st.session_state["speed.result"]
    sizes = (784, *hidden, 10)
    st.subheader(f"Network {' → '.join(str(n) for n in sizes)}")
    st.plotly_chart(figures.throughput_figure(rows), key="speed.chart")
    st.dataframe(speed_frame(rows, peak), hide_index=True, placeholder="—")     # a twin not measured
    st.caption(teaching.NOTICE["speed_page"])
    st.caption("Medians over the rounds. Timings vary from run to run. " + (threads_note(report) if report else ""))
    st.markdown("**How close to the hardware?** A training step is almost all matrix products: "
                f"{bench.training_flops_per_sample(sizes):,} floating-point operations per example "
                "for this network, forward and backward, counted from the layer sizes. Examples/s "
                "times that is each twin's GFLOP/s (billions of operations per second), set against "
                "what one large matrix product reaches on this server.")
    for batch_size, shares in bench.peak_shares(rows, peak).items():
        st.markdown("- " + bench.limit_sentence(batch_size, shares))
    label = bench.peak_label(peak)
    st.caption(label[0].upper() + label[1:] + ", timed in a trainer process once per server: a "
               "measurement of this machine, not its datasheet figure.")

st.subheader("Why can the from-scratch code be faster?")
st.markdown(
    "Both twins end up in the same kind of code: a matrix multiply by an optimised BLAS library. "
    "What differs is the work *around* each multiply.\n\n"
    "- **PyTorch pays a fixed cost per operation**: the dispatcher picks a kernel for the device and "
    "dtype, autograd records every operation in a graph so that `loss.backward()` can walk it "
    "backwards, applying each operation's derivative, and `optimizer.step()` and `zero_grad()` loop "
    "over parameter tensors with their own bookkeeping. That is microseconds per call, whatever "
    "the size of the matrices.\n"
    "- **NumPy pays a smaller fixed cost per call** (checking its arguments and creating each "
    "result array, about a microsecond), and the NumPy twin has no graph to record: its backward "
    "pass is written out by hand.\n"
    "- **Small batches and narrow layers**: each multiply takes microseconds too, so the fixed cost "
    "is a large share and NumPy can win.\n"
    "- **Large batches or wide layers**: the multiplies dominate, both twins spend their time in "
    "BLAS, and the numbers converge. On a GPU, PyTorch pulls ahead once the matrices are big "
    "enough to keep it busy.")

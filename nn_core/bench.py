"""Samples per second of the NumPy twin and the torch twin, measured alternately, and how close each
gets to the machine's own matrix-multiply speed (a roofline).

Both twins are built from one TrainConfig and start from the same initial weights. Each is timed on
the code path `trainer.train` runs: the twin's own `batches()` iterator, epoch after epoch, and
`train_step(..., diagnose=False)`, and, as there, a step's time is fetching its batch plus the step.
After one untimed warm-up round per twin, the rounds alternate (numpy, torch, torch, numpy, ...),
so a busy moment of the machine falls on both twins rather than on one.

The roofline: a training step's arithmetic is almost all matrix products, whose floating-point
operations follow from the layer sizes (`training_flops_per_sample`). Samples/s times that is a
twin's achieved GFLOP/s; `matmul_peak` measures what one big matrix product reaches on this
machine, with the same thread caps. The share of that peak a twin reaches says what limits it.
"""

import itertools
import statistics
import time
import warnings

import numpy as np

from .config import TrainConfig
from .optional_torch import torch_available
from .trainer import epoch_order, train
from .twins import TWIN_NAMES, initial_params, make_twin


# What limits a twin, by the share of the measured peak it reaches, highest bar first. A step's
# products have skinny shapes (a side of 10 or 64), which reach only about half of the big square
# probe's speed even with nothing around them: the hand-tuned reference loop, which has almost no
# overhead, measured 49 % at batch 256 (benchmarks/bench_peers.py). So from 40 % on the products
# themselves set the pace; below it, mostly the fixed cost of each call around them does (Python,
# NumPy's or PyTorch's dispatch, autograd, small arrays).
LIMITS = ((0.4, "the matrix multiplies limit it"), (0.0, "per-call overhead limits it"))


def training_flops_per_sample(layer_sizes) -> int:
    """Floating-point operations of one training sample's forward and backward pass, exactly, as
    the matrix products count them (a multiply and an add per term). A layer of n_in -> n_out units:
    forward Z = A @ W and backward dW = A.T @ dZ are 2 * n_in * n_out each; dA = dZ @ W.T is too,
    except in the first layer, whose input (the pixels) needs no gradient. Element-wise work
    (biases, activations, softmax, the update) is left out: a few operations per unit, under 1 %
    here. 784-128-64-10: 454,400."""
    layers = list(zip(layer_sizes[:-1], layer_sizes[1:]))
    forward = sum(2 * n_in * n_out for n_in, n_out in layers)
    input_grads = sum(2 * n_in * n_out for n_in, n_out in layers[1:])
    return 2 * forward + input_grads


def matmul_peak(size=512, repeats=20, dtype="float32") -> dict:
    """This machine's matrix-multiply speed, measured here (in this process, with its BLAS thread
    cap): the best of `repeats` products of two (size, size) matrices, 2 * size^3 operations each.
    One product takes a few milliseconds, so on a busy machine some of them still run uninterrupted
    and the best one shows the hardware. {"gflops", "size", "repeats", "dtype", "threads"}
    (threads: BLAS's, None if unknown)."""
    from .threads import blas_threads
    rng = np.random.default_rng(0)
    a, b = (rng.random((size, size), dtype=np.float64).astype(dtype) for _ in range(2))
    out = np.empty_like(a)
    np.matmul(a, b, out=out)                         # warm-up: BLAS threads, caches
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        np.matmul(a, b, out=out)
        best = min(best, time.perf_counter() - t0)
    return {"gflops": 2 * size ** 3 / best / 1e9, "size": size, "repeats": repeats, "dtype": dtype,
            "threads": blas_threads()}


def limit_sentence(batch_size, shares) -> str:
    """One sentence on what limits each twin at this batch size; shares: {impl: share of the peak}."""
    clauses = [f"{TWIN_NAMES[impl]} reaches {share:.0%} of the measured peak, so "
               + next(words for bar, words in LIMITS if share >= bar)
               for impl, share in shares.items() if share is not None]
    return f"Batch {batch_size}: " + "; ".join(clauses) + "."


def random_data(n_rows=4096, seed=0, dtype="float32"):
    """Seeded stand-in data: pixels uniform in [0, 1), labels 0-9. Speed does not depend on values."""
    rng = np.random.default_rng(seed)
    return rng.random((n_rows, 784), dtype=np.float64).astype(dtype), rng.integers(0, 10, n_rows)


def clocks() -> np.ndarray:
    """(wall-clock seconds, this process's CPU seconds) now. CPU time leaves out the moments the
    process waited for a core, so on a shared, busy machine it is the steadier of the two."""
    return np.array([time.perf_counter(), time.process_time()])


def time_training_loop(twin, split, config) -> dict:
    """trainer.train with `twin` over config.epochs, timed as a whole (the records, diagnostics and
    checks included) except its validation passes, timed apart and left out: {"seconds",
    "cpu_seconds", "steps", "samples", "event"}, to compare with training loops that never validate."""
    evaluate, validating = twin.evaluate, np.zeros(2)

    def timed_evaluate(x, y):
        start = clocks()
        result = evaluate(x, y)
        validating[:] += clocks() - start
        return result
    twin.evaluate = timed_evaluate
    try:
        start = clocks()
        records = list(train(twin, split, config))
        seconds, cpu_seconds = clocks() - start - validating
    finally:
        del twin.evaluate
    return {"seconds": seconds, "cpu_seconds": cpu_seconds, "steps": records[-1].step,
            "samples": records[-1].samples_seen, "event": records[-1].event}


def _batch_stream(twin, x, y, batch_size):
    """The twin's mini-batches epoch after epoch, as trainer.train draws them (batch_size 0: full batch)."""
    batch_size = batch_size or len(x)
    for epoch in itertools.count(1):
        yield from twin.batches(x, y, epoch_order(0, epoch, len(x)), batch_size)


def _time_steps(twin, batches, steps):
    """Samples per second over `steps` training steps, each fetching its batch from `batches`."""
    busy, samples = 0.0, 0
    for _ in range(steps):
        t0 = time.perf_counter()
        xb, yb = next(batches)
        twin.train_step(xb, yb, diagnose=False)
        busy += time.perf_counter() - t0
        samples += len(yb)
    return samples / busy


def measure_throughput(batch_sizes=(64, 256), hidden=(128, 64), rounds=5, steps=60, optimizer="sgd",
                       dtype="float32", impls=("numpy", "torch"), device=None, x=None, y=None):
    """One row per (batch size, twin): {batch_size, impl, device, samples_per_s_median,
    samples_per_s_all, gflops} (gflops: the median's arithmetic, see training_flops_per_sample).

    x, y: float pixels (n, 784) in [0, 1] and int labels (n,); default: 4,096 seeded random rows.
    Without PyTorch installed, the torch rows are left out with a warning.
    """
    if x is None or y is None:
        x, y = random_data(dtype=dtype)
    x, y = np.array(x, dtype=dtype, order="C"), np.array(y, dtype=np.int64)  # writable copies, as torch wants
    impls = list(impls)
    if "torch" in impls and not torch_available():
        warnings.warn("PyTorch is not installed, so only the NumPy twin is measured.", RuntimeWarning,
                      stacklevel=2)
        impls.remove("torch")
    rows = []
    for batch_size in batch_sizes:
        config = TrainConfig(hidden=tuple(hidden), optimizer=optimizer, dtype=dtype,
                             batch_size=batch_size).validated()
        params = initial_params(config)
        twins = {impl: make_twin(impl, config, params, device=device) for impl in impls}
        batches = {impl: _batch_stream(twins[impl], x, y, batch_size) for impl in impls}
        rates = {impl: [] for impl in impls}
        for impl in impls:  # warm-up: first-call costs (allocations, torch's tensor copy of x)
            _time_steps(twins[impl], batches[impl], steps)
        for r in range(rounds):
            for impl in (impls if r % 2 == 0 else impls[::-1]):
                rates[impl].append(_time_steps(twins[impl], batches[impl], steps))
        flops = training_flops_per_sample(config.layer_sizes)
        for impl in impls:
            median = statistics.median(rates[impl])
            rows.append({"batch_size": batch_size, "impl": impl,
                         "device": str(getattr(twins[impl], "device", "cpu")),
                         "samples_per_s_median": median, "samples_per_s_all": rates[impl],
                         "gflops": median * flops / 1e9})
    return rows


def ratio_table(rows):
    """[{batch_size, numpy, torch, ratio}]: median samples/s of each twin and numpy / torch (None
    when a twin was not measured)."""
    table = {}
    for row in rows:
        table.setdefault(row["batch_size"], {"batch_size": row["batch_size"], "numpy": None,
                                             "torch": None})[row["impl"]] = row["samples_per_s_median"]
    for entry in table.values():
        entry["ratio"] = entry["numpy"] / entry["torch"] if entry["numpy"] and entry["torch"] else None
    return list(table.values())


def peak_share(row, peak) -> float | None:
    """The share of the measured peak (matmul_peak's dict) a row reaches; None on a GPU, which the
    CPU's peak does not describe."""
    return None if row["device"].startswith("cuda") else row["gflops"] / peak["gflops"]


def peak_label(peak) -> str:
    """How the peak was measured, in words."""
    threads = "an unknown number of" if peak["threads"] is None else peak["threads"]
    return (f"measured peak: {peak['gflops']:.1f} GFLOP/s, the best of {peak['repeats']} "
            f"{peak['size']}x{peak['size']} {peak['dtype']} matrix products with {threads} BLAS thread(s)")


def format_report(rows, peak=None) -> str:
    """The samples/s table with each twin's GFLOP/s and share of the measured peak (when `peak`,
    matmul_peak's dict, is given), the numpy/torch ratio and what limits each twin, as text."""
    lines = [f"{'batch':>5}  {'twin':<5}  {'device':<6}  {'median samples/s':>16}  {'GFLOP/s':>7}  "
             f"{'% of peak':>9}  all rounds"]
    for row in rows:
        rounds = " ".join(f"{r:,.0f}" for r in row["samples_per_s_all"])
        share = None if peak is None else peak_share(row, peak)
        shown = "-" if share is None else f"{share:.0%}"
        lines.append(f"{row['batch_size']:>5}  {row['impl']:<5}  {row['device']:<6}  "
                     f"{row['samples_per_s_median']:>16,.0f}  {row['gflops']:>7.1f}  {shown:>9}  {rounds}")
    if peak is not None:
        lines += ["", peak_label(peak) + " (a measurement, not a datasheet figure)"]
        lines += [limit_sentence(batch, shares) for batch, shares in peak_shares(rows, peak).items()]
    lines += ["", f"{'batch':>5}  numpy/torch"]
    for entry in ratio_table(rows):
        ratio = "-" if entry["ratio"] is None else f"{entry['ratio']:.2f}"
        lines.append(f"{entry['batch_size']:>5}  {ratio:>11}")
    return "\n".join(lines)


def peak_shares(rows, peak) -> dict:
    """{batch_size: {impl: share of the peak}} for the CPU rows."""
    shares = {}
    for row in rows:
        if not row["device"].startswith("cuda"):
            shares.setdefault(row["batch_size"], {})[row["impl"]] = peak_share(row, peak)
    return shares

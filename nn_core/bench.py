"""Samples per second of the NumPy twin and the torch twin, measured alternately.

Both twins are built from one TrainConfig and start from the same initial weights. Each is timed on
the code path `trainer.train` runs: the twin's own `batches()` iterator and
`train_step(..., diagnose=False)`, and, as there, a step's time is fetching its batch plus the step.
After one untimed warm-up round per twin, the rounds alternate (numpy, torch, torch, numpy, ...),
so a busy moment of the machine falls on both twins rather than on one.
"""

import importlib.util
import statistics
import time
import warnings

import numpy as np

from .config import TrainConfig
from .trainer import epoch_order, initial_params, make_twin


def random_data(n_rows=4096, seed=0, dtype="float32"):
    """Seeded stand-in data: pixels uniform in [0, 1), labels 0-9. Speed does not depend on values."""
    rng = np.random.default_rng(seed)
    return rng.random((n_rows, 784), dtype=np.float64).astype(dtype), rng.integers(0, 10, n_rows)


def _time_steps(twin, x, y, batch_size, steps, epochs):
    """Samples per second over `steps` training steps; `epochs`: a one-item list, the twin's epoch."""
    busy, done, samples = 0.0, 0, 0
    batch_size = batch_size or len(x)  # 0: full batch, as in trainer.train
    while done < steps:
        epochs[0] += 1
        batches = twin.batches(x, y, epoch_order(0, epochs[0], len(x)), batch_size)
        for _ in range(min(steps - done, -(-len(x) // batch_size))):
            t0 = time.perf_counter()
            xb, yb = next(batches)
            twin.train_step(xb, yb, diagnose=False)
            busy += time.perf_counter() - t0
            done += 1
            samples += len(yb)
    return samples / busy


def measure_throughput(batch_sizes=(64, 256), hidden=(128, 64), rounds=5, steps=60, optimizer="sgd",
                       dtype="float32", impls=("numpy", "torch"), device=None, x=None, y=None):
    """One row per (batch size, twin): {batch_size, impl, device, samples_per_s_median, samples_per_s_all}.

    x, y: float pixels (n, 784) in [0, 1] and int labels (n,); default: 4,096 seeded random rows.
    Without PyTorch installed, the torch rows are left out with a warning.
    """
    if x is None or y is None:
        x, y = random_data(dtype=dtype)
    x, y = np.array(x, dtype=dtype, order="C"), np.array(y, dtype=np.int64)  # writable copies, as torch wants
    impls = list(impls)
    if "torch" in impls and importlib.util.find_spec("torch") is None:
        warnings.warn("PyTorch is not installed, so only the NumPy twin is measured.", RuntimeWarning,
                      stacklevel=2)
        impls.remove("torch")
    rows = []
    for batch_size in batch_sizes:
        config = TrainConfig(hidden=tuple(hidden), optimizer=optimizer, dtype=dtype,
                             batch_size=batch_size).validated()
        params = initial_params(config)
        twins = {impl: make_twin(impl, config, params, device=device) for impl in impls}
        epochs = {impl: [0] for impl in impls}
        rates = {impl: [] for impl in impls}
        for impl in impls:  # warm-up: first-call costs (allocations, torch's tensor copy of x)
            _time_steps(twins[impl], x, y, batch_size, steps, epochs[impl])
        for r in range(rounds):
            for impl in (impls if r % 2 == 0 else impls[::-1]):
                rates[impl].append(_time_steps(twins[impl], x, y, batch_size, steps, epochs[impl]))
        for impl in impls:
            rows.append({"batch_size": batch_size, "impl": impl,
                         "device": str(getattr(twins[impl], "device", "cpu")),
                         "samples_per_s_median": statistics.median(rates[impl]),
                         "samples_per_s_all": rates[impl]})
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


def format_report(rows) -> str:
    """The samples/s table and the numpy/torch ratio per batch size, as printable text."""
    lines = [f"{'batch':>5}  {'twin':<5}  {'device':<6}  {'median samples/s':>16}  all rounds"]
    for row in rows:
        rounds = " ".join(f"{r:,.0f}" for r in row["samples_per_s_all"])
        lines.append(f"{row['batch_size']:>5}  {row['impl']:<5}  {row['device']:<6}  "
                     f"{row['samples_per_s_median']:>16,.0f}  {rounds}")
    lines += ["", f"{'batch':>5}  numpy/torch"]
    for entry in ratio_table(rows):
        ratio = "-" if entry["ratio"] is None else f"{entry['ratio']:.2f}"
        lines.append(f"{entry['batch_size']:>5}  {ratio:>11}")
    return "\n".join(lines)

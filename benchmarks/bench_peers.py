"""The NumPy twin against its peers: training samples/s, alternately in one run, one thread each.

784-128-64-10, ReLU, plain SGD (lr 0.1, no momentum, no L2), float32, on the shipped sample's 4,000
training rows (seeded 80/20 split), `--epochs` epochs per timed run, at batch 64 and 256:
- twin:      nn_core.trainer.train with the NumPy twin, the app's own training path (a Record per
             step, diagnostics every 5 steps, the divergence check). Its validation passes are timed
             apart and left out: none of the others validates.
- reference: benchmarks/reference_mlp.py, a minimal hand-tuned NumPy loop (preallocated buffers,
             contiguous batches, nothing per step but the maths and the batch loss).
- sklearn:   scikit-learn's MLPClassifier(solver="sgd", momentum=0, alpha=0, the same sizes and
             batch size, shuffling its own way), its fit() over the same epochs.
- torch:     nn_core.trainer.train with the PyTorch twin (CPU), validation left out as for the twin.
Every contender runs once untimed, then `--rounds` rounds alternate them, each round in a rotated
order, so that a busy moment of the machine falls on all of them; the tables show medians, by the
wall clock and by this process's CPU time (which leaves out the moments it waited for a core: the
steadier figure on a shared machine). BLAS (all of its libraries, via threadpoolctl) and torch get
one thread each, as in the app's trainer processes.

Goals: twin >= 0.95x reference at both batch sizes; twin >= 1.5x MLPClassifier at batch 64 (the exit
status follows the wall-clock figures).

    .venv/bin/python benchmarks/bench_peers.py                 # 7 rounds of 3 epochs
    .venv/bin/python benchmarks/bench_peers.py --rounds 3      # quicker, noisier
"""
import argparse
import os
import platform
import statistics
import sys
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]  # run from anywhere

import numpy as np  # noqa: E402

from nn_core.bench import clocks, matmul_peak, time_training_loop, training_flops_per_sample  # noqa: E402
from nn_core.config import TrainConfig  # noqa: E402
from nn_core.data import load_shipped_sample, make_split  # noqa: E402
from nn_core.trainer import epoch_order, train  # noqa: E402
from nn_core.twins import initial_params, make_twin  # noqa: E402
from reference_mlp import ReferenceMLP  # noqa: E402

HIDDEN = (128, 64)
LR = 0.1
CONTENDERS = ("twin", "reference", "sklearn", "torch")
GOALS = (("twin", "reference", 64, 0.95), ("twin", "reference", 256, 0.95), ("twin", "sklearn", 64, 1.5))
CLOCKS = {"wall clock": "seconds", "CPU time": "cpu_seconds"}   # how a run's seconds are read


def config_for(batch_size, epochs):
    return TrainConfig(hidden=HIDDEN, optimizer="sgd", lr=LR, batch_size=batch_size, epochs=epochs,
                       dtype="float32").validated()


def time_trainer(impl, batch_size, split, epochs):
    """trainer.train with the `impl` twin, its validation passes left out: {samples, seconds, cpu_seconds}."""
    config = config_for(batch_size, epochs)
    timing = time_training_loop(make_twin(impl, config, initial_params(config), device="cpu"), split, config)
    assert timing["event"] == "done", timing
    return timing


def time_reference(batch_size, split, epochs):
    config = config_for(batch_size, epochs)
    reference = ReferenceMLP(initial_params(config), LR, batch_size)
    n = len(split.x_train)
    start = clocks()
    reference.train(split.x_train, split.y_train, epochs, lambda epoch: epoch_order(config.seed, epoch, n))
    seconds, cpu_seconds = clocks() - start
    return {"samples": epochs * n, "seconds": seconds, "cpu_seconds": cpu_seconds}


def time_sklearn(batch_size, split, epochs):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier
    model = MLPClassifier(hidden_layer_sizes=HIDDEN, activation="relu", solver="sgd", alpha=0.0,
                          batch_size=batch_size, learning_rate_init=LR, momentum=0.0,
                          nesterovs_momentum=False, max_iter=epochs, shuffle=True, random_state=0,
                          tol=0.0, n_iter_no_change=epochs + 1, early_stopping=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)   # max_iter is the point here
        start = clocks()
        model.fit(split.x_train, split.y_train)
        seconds, cpu_seconds = clocks() - start
    assert model.n_iter_ == epochs
    return {"samples": epochs * len(split.x_train), "seconds": seconds, "cpu_seconds": cpu_seconds}


TIMERS = {
    "twin": lambda b, split, epochs: time_trainer("numpy", b, split, epochs),
    "reference": time_reference,
    "sklearn": time_sklearn,
    "torch": lambda b, split, epochs: time_trainer("torch", b, split, epochs),
}


def same_losses(split, batch_size, steps=10):
    """Largest |loss difference| between the twin and the reference over their first steps: they
    train the very same network on the same batches, so it is float32 rounding."""
    config = config_for(batch_size, 1)
    steps = min(steps, len(split.x_train) // batch_size)
    params0 = initial_params(config)
    twin_losses = [r.loss for r, _ in zip(train(make_twin("numpy", config, params0), split, config),
                                          range(steps))]
    reference = ReferenceMLP(params0, LR, batch_size)
    order = epoch_order(config.seed, 1, len(split.x_train))
    x, y = split.x_train[order], split.y_train[order]
    ref_losses = [reference.step(x[i * batch_size:(i + 1) * batch_size], y[i * batch_size:(i + 1) * batch_size])
                  for i in range(steps)]
    return float(np.max(np.abs(np.subtract(twin_losses, ref_losses))))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-sizes", default="64,256")
    args = parser.parse_args()
    batch_sizes = [int(b) for b in args.batch_sizes.split(",")]

    import sklearn
    import torch
    from threadpoolctl import threadpool_info, threadpool_limits
    threadpool_limits(1)                                      # every BLAS / OpenMP library loaded
    torch.set_num_threads(1)
    load = os.getloadavg()
    blas = sorted({f"{p['internal_api']} {p['num_threads']}" for p in threadpool_info()})
    print(f"python {platform.python_version()}, numpy {np.__version__}, scikit-learn {sklearn.__version__}, "
          f"torch {torch.__version__} ({torch.get_num_threads()} thread); thread pools: {', '.join(blas)}; "
          f"{os.cpu_count()} CPUs, load average {' '.join(f'{x:.2f}' for x in load)}")
    split = make_split(load_shipped_sample(), dtype=np.float32)
    print(f"784-{'-'.join(map(str, HIDDEN))}-10, sgd lr {LR}, float32, {len(split.x_train):,} training rows, "
          f"{args.epochs} epochs per run; {args.rounds} alternating rounds after one warm-up run each")
    for batch_size in batch_sizes:
        print(f"twin vs reference, first 10 steps at batch {batch_size}: max |loss difference| "
              f"{same_losses(split, batch_size):.1e}")
    peak = matmul_peak()
    flops = training_flops_per_sample((784, *HIDDEN, 10))
    print(f"measured matrix-multiply peak: {peak['gflops']:.1f} GFLOP/s ({peak['size']}x{peak['size']} "
          f"{peak['dtype']}, {peak['threads']} BLAS thread); {flops:,} FLOP per training sample\n")

    medians = {}                       # (clock, contender, batch size) -> median samples/s
    for batch_size in batch_sizes:
        rates = {(clock, name): [] for clock in CLOCKS for name in CONTENDERS}
        for name in CONTENDERS:
            TIMERS[name](batch_size, split, args.epochs)          # warm-up
        for r in range(args.rounds):
            for name in CONTENDERS[r % 4:] + CONTENDERS[:r % 4]:
                timing = TIMERS[name](batch_size, split, args.epochs)
                for clock, seconds in CLOCKS.items():
                    rates[clock, name].append(timing["samples"] / timing[seconds])
        for clock in CLOCKS:
            print(f"{'batch':>5}  {'contender':<9}  {'median samples/s':>16}  {'GFLOP/s':>7}  {'% of peak':>9}  "
                  f"{'twin / it':>9}  all rounds ({clock})")
            for name in CONTENDERS:
                medians[clock, name, batch_size] = median = statistics.median(rates[clock, name])
                gflops = median * flops / 1e9
                print(f"{batch_size:>5}  {name:<9}  {median:>16,.0f}  {gflops:>7.1f}  "
                      f"{gflops / peak['gflops']:>9.0%}  {medians[clock, 'twin', batch_size] / median:>9.2f}  "
                      + " ".join(f"{rate:,.0f}" for rate in rates[clock, name]))
            print()
    passed = True
    for clock in CLOCKS:
        for twin, peer, batch_size, goal in GOALS:
            if (clock, peer, batch_size) in medians:
                ratio = medians[clock, twin, batch_size] / medians[clock, peer, batch_size]
                passed &= ratio >= goal or clock != "wall clock"
                print(f"{'PASS' if ratio >= goal else 'FAIL'} ({clock}): {twin} / {peer} at batch {batch_size} "
                      f"= {ratio:.3f} (goal >= {goal})")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())

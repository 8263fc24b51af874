"""What the network-health diagnostics cost: training samples/s with diagnostics at the default interval
(every TrainConfig.diag_every = 5 steps: norms, dead / saturated shares, histograms) against the same
training with diagnostics off (diag_every larger than the run), for both twins.

Each round trains a fresh twin from the same initial weights through trainer.train, the loop the
app's workers run (records included, validation passes timed apart and left out: nn_core.bench's
time_training_loop), on the shipped 5,000-digit sample, default network (784-128-64-10, momentum,
batch 64, float32), one BLAS / torch thread as in a worker. Rounds alternate (on, off, off, on, ...)
so a busy moment of the machine falls on both. Goal: diagnostics cost at most 10 % of throughput,
on / off >= 0.90 for each twin, on CPU time (steadier than wall-clock time on a shared machine).
Printed: the ratio of the two medians, and the median of each round's own on / off (the two runs
of a round follow each other, so a load that drifts over the benchmark cancels out); the goal is
checked on the second.

On a busy shared machine those rounds swing by 10-20 %, as much as the cost measured. So a second
estimate follows, from within single runs: the median time of a plain step, of a diagnostic step,
and of a diagnostic step that also counts histograms (one in HISTOGRAM_EVERY), each step timed by
the trainer itself (Record.step_time); the three kinds interleave, so a busy moment hits all.

    .venv/bin/python benchmarks/bench_health.py            # 11 rounds of 2 epochs per setting and twin
    .venv/bin/python benchmarks/bench_health.py --quick    # 3 rounds of 1 epoch
"""

import argparse
import os
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from anywhere

from nn_core.bench import time_training_loop  # noqa: E402
from nn_core.config import TrainConfig  # noqa: E402
from nn_core.data import load_shipped_sample, make_split  # noqa: E402
from nn_core.diagnostics import HISTOGRAM_EVERY  # noqa: E402
from nn_core.trainer import train  # noqa: E402
from nn_core.threads import limit_threads  # noqa: E402
from nn_core.twins import initial_params, make_twin  # noqa: E402

GOAL = 0.90
NEVER = 10 ** 9          # diag_every past the run's last step: no diagnostics at all


def rate(impl, config, params, split) -> tuple:
    """(samples/s on CPU time, samples/s on wall-clock time) of one fresh twin trained per config."""
    timed = time_training_loop(make_twin(impl, config, params), split, config)
    return timed["samples"] / timed["cpu_seconds"], timed["samples"] / timed["seconds"]


def step_kinds(impl, config, params, split) -> dict:
    """Median seconds of each kind of step of one run: "plain", "diagnostic", "histograms"."""
    kinds = {"plain": [], "diagnostic": [], "histograms": []}
    for r in train(make_twin(impl, config, params), split, config):
        if r.step > 1:       # the first step pays first-call costs
            kind = "plain" if r.grad_norm is None else "diagnostic" if r.weight_hist is None else "histograms"
            kinds[kind].append(r.step_time)
    return {kind: statistics.median(times) for kind, times in kinds.items()}


def within_runs(config, params, split, epochs) -> None:
    """The second estimate (see the module's docstring), printed for both twins."""
    config = config.replace(epochs=epochs)
    cycle = HISTOGRAM_EVERY * config.diag_every          # steps in which each kind recurs
    print(f"Within single runs ({epochs} epochs): median step time, microseconds")
    print(f"{'twin':<6} {'plain':>7} {'diagnostic':>11} {'+histograms':>12}  cost over {cycle} steps")
    for impl in ("numpy", "torch"):
        m = step_kinds(impl, config, params, split)
        extra = (HISTOGRAM_EVERY - 1) * (m["diagnostic"] - m["plain"]) + m["histograms"] - m["plain"]
        ratio = cycle * m["plain"] / (cycle * m["plain"] + extra)
        print(f"{impl:<6} {m['plain'] * 1e6:>7.0f} {m['diagnostic'] * 1e6:>11.0f} "
              f"{m['histograms'] * 1e6:>12.0f}  on / off = {ratio:.3f}")
    print()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 rounds of 1 epoch instead of 11 of 2")
    args = parser.parse_args()
    rounds, epochs = (3, 1) if args.quick else (11, 2)
    import torch  # noqa: F401  (loaded first, so that limit_threads caps its threads too)
    limit_threads(1)

    on = TrainConfig(epochs=epochs).validated()
    settings = {"on": on, "off": on.replace(diag_every=NEVER).validated()}
    split = make_split(load_shipped_sample(), on.val_fraction, on.seed, dtype=on.dtype)
    params = initial_params(on)
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; {os.cpu_count()} CPUs")
    print(f"784-128-64-10, {on.optimizer}, batch {on.batch_size}, {on.dtype}, shipped sample; diagnostics "
          f"every {on.diag_every} steps vs never; {rounds} rounds x {epochs} epochs per setting and twin, "
          "alternating, after one warm-up round\n")
    print(f"{'twin':<6} {'setting':<8} {'median samples/s (CPU)':>22} {'(wall)':>8}  all rounds (CPU)")
    passed = True
    for impl in ("numpy", "torch"):
        rates = {name: [] for name in settings}
        for name, config in settings.items():                 # warm-up: first-call costs
            rate(impl, config, params, split)
        for r in range(rounds):
            for name in (("on", "off") if r % 2 == 0 else ("off", "on")):
                rates[name].append(rate(impl, settings[name], params, split))
        median = {}
        for name, measured in rates.items():
            median[name] = statistics.median(cpu for cpu, _ in measured)
            wall = statistics.median(w for _, w in measured)
            print(f"{impl:<6} {name:<8} {median[name]:>22,.0f} {wall:>8,.0f}  "
                  + " ".join(f"{cpu:,.0f}" for cpu, _ in measured))
        paired = statistics.median(on[0] / off[0] for on, off in zip(rates["on"], rates["off"]))
        passed &= paired >= GOAL
        print(f"{impl:<6} on / off: {median['on'] / median['off']:.3f} (medians), {paired:.3f} (median of "
              f"the rounds' own ratios; goal >= {GOAL})\n")
    within_runs(on, params, split, epochs=2 * epochs)
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print("PASS" if passed else "FAIL")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())

"""NumPy twin vs torch twin: training samples/s of 784-128-64-10, SGD, float32, batch 64 and 256.

Both twins are timed in one process on the shipped 5,000-digit sample, in alternating rounds (see
nn_core/bench.py), on the same code path the app's training runs. The goal: the NumPy twin reaches
at least 1.5x torch's samples/s (numpy / torch >= 1.5) at every batch size.

    .venv/bin/python benchmarks/bench_numpy_vs_torch.py            # 7 rounds of 100 steps
    .venv/bin/python benchmarks/bench_numpy_vs_torch.py --quick    # 3 rounds of 30 steps
"""
import argparse
import os
import platform
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from anywhere

from nn_core.bench import format_report, measure_throughput, ratio_table  # noqa: E402
from nn_core.data import load_shipped_sample, scale_pixels  # noqa: E402

GOAL = 1.5
BATCH_SIZES = (64, 256)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 rounds of 30 steps instead of 7 of 100")
    args = parser.parse_args()
    rounds, steps = (3, 30) if args.quick else (7, 100)

    import numpy as np
    import torch
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    print(f"python {platform.python_version()}, numpy {np.__version__}, torch {torch.__version__} "
          f"({torch.get_num_threads()} threads), {os.cpu_count()} CPUs, load average "
          f"{' '.join(f'{x:.2f}' for x in load) if load else '-'}")
    print(f"784-128-64-10, sgd, float32, shipped sample; {rounds} rounds x {steps} steps per twin, "
          "alternating, after one warm-up round\n")

    sample = load_shipped_sample()
    rows = measure_throughput(batch_sizes=BATCH_SIZES, hidden=(128, 64), rounds=rounds, steps=steps,
                              optimizer="sgd", dtype="float32", x=scale_pixels(sample.images),
                              y=sample.labels)
    print(format_report(rows))
    ratios = [entry["ratio"] for entry in ratio_table(rows)]
    passed = all(r is not None and r >= GOAL for r in ratios)
    if load:
        print(f"\nload average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"{'PASS' if passed else 'FAIL'}: numpy/torch {', '.join(f'{r:.2f}' for r in ratios)} "
          f"(goal >= {GOAL} at batch {' and '.join(map(str, BATCH_SIZES))})")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())

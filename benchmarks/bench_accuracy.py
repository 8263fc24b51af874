"""How long the default configuration takes to reach 95% validation accuracy, per twin.

    python benchmarks/bench_accuracy.py

Goal (issue 3): >= 95% on the shipped 5k sample (seeded stratified 80/20 split) within 15 s of
training on a 2-core machine, for both twins.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from nn_core.config import TrainConfig  # noqa: E402
from nn_core.data import load_shipped_sample, make_split  # noqa: E402
from nn_core.trainer import train  # noqa: E402
from nn_core.twins import initial_params, make_twin  # noqa: E402

GOAL_ACC, GOAL_SECONDS = 0.95, 15.0


def main():
    config = TrainConfig()
    split = make_split(load_shipped_sample(), config.val_fraction, config.seed)
    print(f"config: hidden={config.hidden} {config.activation} {config.optimizer} lr={config.lr} "
          f"batch={config.batch_size} epochs={config.epochs}")
    ok = True
    for impl in ("numpy", "torch"):
        reached = None
        for record in train(make_twin(impl, config, initial_params(config)), split, config):
            if reached is None and record.val_acc is not None and record.val_acc >= GOAL_ACC:
                reached = record.wall_time
        final_ok = record.val_acc >= GOAL_ACC and record.wall_time <= GOAL_SECONDS
        ok &= final_ok
        first = f"{reached:.2f} s" if reached is not None else "never"
        print(f"{impl:6s} final val_acc {record.val_acc:.4f} after {record.wall_time:.2f} s "
              f"(first >= {GOAL_ACC:.0%} at {first}) -> {'PASS' if final_ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())

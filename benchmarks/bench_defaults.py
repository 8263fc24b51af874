"""Which default optimizer and learning rate hold up beyond the shipped sample?

    python benchmarks/bench_defaults.py [--seeds 0,1,2] [--epochs 20]

Trains the default network (TrainConfig's hidden, activation, init, batch size) with each candidate
optimizer / learning rate, NumPy twin, on three MNIST-layout sets, and runs the learning-rate finder
on each. Only the shipped sample is real MNIST; the other two are offline proxies for "other
MNIST-like data" (there is no internet here to fetch another real set):
  - shifted+noise: the shipped digits, each moved 2 pixels in a random direction, plus Gaussian
    pixel noise (std 25 of 255): the same writers, so only a partial check;
  - sklearn digits: scikit-learn's 1,797 8x8 digits (other writers, other scanner), scaled up to
    20x20 and centred in 28x28 like MNIST: blurrier, fewer rows.
Per candidate and set: mean validation accuracy after 5 epochs and after the last epoch (over the
seeds), the epoch-to-epoch swing (mean |change| of validation accuracy over the last half of the
epochs) and the training time.
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from nn_core.config import TrainConfig  # noqa: E402
from nn_core.data import Dataset, load_shipped_sample, make_split  # noqa: E402
from nn_core.lr_find import find_lr  # noqa: E402
from nn_core.trainer import train  # noqa: E402
from nn_core.twins import initial_params, make_twin  # noqa: E402

CANDIDATES = [("momentum", 0.1), ("momentum", 0.03), ("nesterov", 0.05), ("adam", 1e-3), ("adam", 2e-3)]


def shifted_with_noise(dataset: Dataset, shift: int = 2, noise: float = 25.0, seed: int = 1) -> Dataset:
    """Each digit moved `shift` pixels in one of 8 random directions, then Gaussian pixel noise."""
    rng = np.random.default_rng(seed)
    images = dataset.images.reshape(-1, 28, 28).astype(np.float64)
    moves = [(dy, dx) for dy in (-shift, 0, shift) for dx in (-shift, 0, shift) if (dy, dx) != (0, 0)]
    out = np.empty_like(images)
    for i, image in enumerate(images):
        dy, dx = moves[rng.integers(len(moves))]
        out[i] = np.roll(image, (dy, dx), axis=(0, 1))
    out += rng.normal(0, noise, out.shape)
    return Dataset(np.clip(out, 0, 255).round().astype(np.uint8).reshape(-1, 784),
                   dataset.labels.copy(), "shifted+noise")


def sklearn_digits() -> Dataset:
    """scikit-learn's 8x8 digits (0..16), each pixel a 2.5x2.5 block: 20x20, centred in 28x28."""
    from sklearn.datasets import load_digits
    digits = load_digits()
    small = digits.images / 16.0 * 255.0                               # (n, 8, 8)
    rows = np.minimum((np.arange(20) / 2.5).astype(int), 7)            # 20 output rows -> 8 input rows
    big = small[:, rows][:, :, rows]                                   # (n, 20, 20)
    images = np.zeros((len(big), 28, 28))
    images[:, 4:24, 4:24] = big
    return Dataset(images.round().astype(np.uint8).reshape(-1, 784), digits.target.astype(np.int64),
                   "sklearn digits")


def measure(dataset, optimizer, lr, epochs, seed):
    config = TrainConfig(optimizer=optimizer, lr=lr, epochs=epochs, seed=seed)
    split = make_split(dataset, config.val_fraction, config.seed)
    per_epoch = [r.val_acc for r in train(make_twin("numpy", config, initial_params(config)), split, config)
                 if r.event in ("epoch_end", "done") and r.val_acc is not None]    # (a diverged run ends early)
    half = per_epoch[len(per_epoch) // 2:]
    swing = statistics.fmean(abs(b - a) for a, b in zip(half, half[1:])) if len(half) > 1 else float("nan")
    return per_epoch[min(4, len(per_epoch) - 1)], per_epoch[-1], swing, len(per_epoch) == epochs


def seeds_and_epochs(argv, description):
    """The --seeds (comma-separated) and --epochs options, as ([seed, ...], epochs)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--epochs", type=int, default=TrainConfig.epochs)
    args = parser.parse_args(argv)
    return [int(s) for s in args.seeds.split(",")], args.epochs


def main(argv=None):
    seeds, epochs = seeds_and_epochs(argv, __doc__.split("\n")[0])
    shipped = load_shipped_sample()
    sets = [shipped, shifted_with_noise(shipped), sklearn_digits()]
    print(f"default network: hidden {TrainConfig.hidden}, {TrainConfig.activation}, {TrainConfig.init}, "
          f"batch {TrainConfig.batch_size}; {epochs} epochs; NumPy twin; seeds {seeds}")
    for dataset in sets:
        print(f"\n{dataset.name} ({len(dataset):,} digits)")
        for optimizer in sorted({o for o, _ in CANDIDATES}):
            config = TrainConfig(optimizer=optimizer)
            found = find_lr(config, make_split(dataset, config.val_fraction, config.seed))
            print(f"  lr finder, {optimizer}: suggests {found.suggested_lr:.3g}")
        if dataset is shipped:     # the check: the default network at the finder's rate
            for seed in seeds:
                config = TrainConfig(seed=seed)
                found = find_lr(config, make_split(dataset, config.val_fraction, config.seed))
                print(f"  seed {seed}: {config.optimizer} at the finder's {found.suggested_lr:.3g} ends at "
                      f"{measure(dataset, config.optimizer, found.suggested_lr, epochs, seed)[1]:.4f}")
        print(f"  {'candidate':<16} {'val acc @5':>10} {'val acc @end':>12} {'swing':>7} {'time':>7}")
        for optimizer, lr in CANDIDATES:
            start = time.perf_counter()
            rows = [measure(dataset, optimizer, lr, epochs, seed) for seed in seeds]
            seconds = (time.perf_counter() - start) / len(seeds)
            at5, at_end, swing, finished = (statistics.fmean(column) for column in zip(*rows))
            note = "" if finished == 1 else "  (some runs diverged)"
            print(f"  {optimizer + ' ' + format(lr, 'g'):<16} {at5:>10.4f} {at_end:>12.4f} {swing:>7.4f} "
                  f"{seconds:>6.1f}s{note}")


if __name__ == "__main__":
    main()

"""Which suggestion rule of the learning-rate finder trains the default network well?

    python benchmarks/bench_lr_find.py [--seeds 0,1,2] [--epochs 20]

For each seed: runs the finder (NumPy twin; both twins' probes agree, tests/test_lr_find.py) on the
shipped sample's split for that seed, lets every rule in nn_core.lr_find.SUGGESTIONS pick a rate
from the same probes, and trains the default network (TrainConfig's hidden, activation, optimizer,
batch size, epochs) at each rate. Prints each rule's rate and final validation accuracy per seed,
and the default learning rate's for comparison.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_defaults import measure, seeds_and_epochs  # noqa: E402
from nn_core.config import TrainConfig  # noqa: E402
from nn_core.data import load_shipped_sample, make_split  # noqa: E402
from nn_core.lr_find import DEFAULT_SUGGESTION, SUGGESTIONS, find_lr, suggest  # noqa: E402


def main(argv=None):
    seeds, epochs = seeds_and_epochs(argv, __doc__.split("\n")[0])
    shipped = load_shipped_sample()
    print(f"shipped sample; default network: hidden {TrainConfig.hidden}, {TrainConfig.activation}, "
          f"{TrainConfig.optimizer}, batch {TrainConfig.batch_size}; {epochs} epochs; NumPy twin; "
          f"rule in use: {DEFAULT_SUGGESTION}")
    probes = {}
    for seed in seeds:
        config = TrainConfig(seed=seed)
        probes[seed] = find_lr(config, make_split(shipped, config.val_fraction, config.seed)).probes
    rates = {rule: {seed: suggest(probes[seed], rule) for seed in seeds} for rule in SUGGESTIONS}
    rates[f"default lr {TrainConfig.lr:g}"] = {seed: TrainConfig.lr for seed in seeds}
    print(f"{'rule':<16}" + "".join(f"{f'seed {s}: lr -> val acc':>26}" for s in seeds) + f"{'lowest':>8}")
    for rule, by_seed in rates.items():
        accuracies = {seed: measure(shipped, TrainConfig.optimizer, lr, epochs, seed)[1]
                      for seed, lr in by_seed.items()}
        cells = "".join(f"{f'{by_seed[s]:.3g} -> {accuracies[s]:.2%}':>26}" for s in seeds)
        print(f"{rule:<16}{cells}{min(accuracies.values()):>8.2%}", flush=True)


if __name__ == "__main__":
    main()

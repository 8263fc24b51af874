"""The default configuration learns the shipped sample: >= 95% validation accuracy, both twins.

(How long it takes is a benchmark, benchmarks/bench_accuracy.py, not a timed test.)
"""

import pytest

from nn_core.config import TrainConfig
from nn_core.data import load_shipped_sample, make_split
from nn_core.trainer import train
from nn_core.twins import initial_params, make_twin


@pytest.mark.parametrize("impl", ["numpy", "torch"])
def test_default_config_reaches_95_percent(impl):
    config = TrainConfig()
    split = make_split(load_shipped_sample(), config.val_fraction, config.seed)
    records = list(train(make_twin(impl, config, initial_params(config)), split, config))
    final = records[-1]
    assert final.event == "done"
    assert final.epoch == config.epochs
    assert final.val_acc >= 0.95, f"{impl}: {final.val_acc:.3f}"

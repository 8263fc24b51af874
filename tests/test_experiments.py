"""nn_core.experiments: one setting varied, everything else held equal; results and verdict."""

import json

import numpy as np
import pytest

from nn_core import data
from nn_core.config import TrainConfig
from nn_core.errors import ConfigError, LimitError
from nn_core.experiments import (
    MAX_VALUES, PRESETS, VARIABLES, ExperimentRuns, experiment_from_spec, make_experiment, parse_vary,
    preset_experiment, run_result, verdict)
from nn_core.limits import Limits
from nn_core.run import Run, run_to_end
from nn_core.trainer import Record
from nn_core.twins import initial_params

BASE = TrainConfig(hidden=(16,), epochs=1, batch_size=500, eval_every=4)


def test_configs_differ_in_the_varied_key_only():
    exp = make_experiment(BASE, "optimizer", ["sgd", "adam", "nesterov"])
    assert exp.labels == ["optimizer=sgd", "optimizer=adam", "optimizer=nesterov"]
    for config, name in zip(exp.configs(), ["sgd", "adam", "nesterov"]):
        assert config == BASE.replace(optimizer=name)


def test_values_are_read_by_type_and_written_back():
    assert make_experiment(BASE, "lr", ["0.001", "1e-1"]).labels == ["lr=0.001", "lr=0.1"]
    assert make_experiment(BASE, "batch_size", ["32", "0"]).values == (32, 0)
    hidden = make_experiment(BASE, "hidden", ["128-64", "none", "32"])
    assert hidden.values == ((128, 64), (), (32,))
    assert hidden.labels == ["hidden=128-64", "hidden=none", "hidden=32"]


def test_parse_vary():
    assert parse_vary("optimizer=sgd, adam") == ("optimizer", ["sgd", "adam"])
    with pytest.raises(ConfigError, match="KEY=V1,V2"):
        parse_vary("optimizer")


@pytest.mark.parametrize("key, values, expected", [
    ("momentum", ["0.5", "0.9"], "cannot vary 'momentum'; choose one of optimizer, lr,"),
    ("lr", ["0.1"], "give 2 to 6 values of lr to compare, separated by commas; got 1."),
    ("lr", ["0.1"] * (MAX_VALUES + 1), "got 7"),
    ("lr", ["0.1", "abc"], "lr value 'abc' is not a valid lr; write values like lr=0.001,0.1."),
    ("lr", ["0.1", "-1"], "learning rate -1 is outside (0, 100]"),
    ("optimizer", ["sgd", "adamw"], "unknown optimizer 'adamw'; choose one of"),
    ("lr", ["0.1", "0.10"], "the value 0.10 of lr is given twice; give each value once."),
    ("lr", ["0.1", ""], "one of the values of lr is empty"),
    ("hidden", ["16", "8-x"], "hidden layer size 'x' is not a whole number"),
])
def test_bad_key_or_value_is_one_sentence(key, values, expected):
    with pytest.raises(ConfigError) as caught:
        make_experiment(BASE, key, values)
    assert expected in str(caught.value)
    assert str(caught.value).count(". ") == 0 and str(caught.value).endswith(".")


def test_values_are_checked_against_the_host_limits():
    with pytest.raises(LimitError, match="widest layer"):
        make_experiment(BASE, "hidden", ["16", "4096"], Limits(max_width=1024))


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_is_a_valid_experiment(name):
    exp = preset_experiment(name)
    assert exp.key in VARIABLES and 2 <= len(exp.values) <= MAX_VALUES
    assert PRESETS[name].lesson.endswith(".")


def test_presets_of_the_issue():
    assert preset_experiment("optimizer_race").texts == ["sgd", "momentum", "nesterov", "rmsprop", "adam"]
    assert preset_experiment("initialisation").texts == ["uniform", "xavier", "he", "zeros"]
    five = preset_experiment("sigmoid_vs_relu")
    assert five.texts == ["sigmoid", "relu"] and len(five.base.hidden) == 5


def test_same_start_wherever_the_layer_sizes_agree():
    for key in ("optimizer", "lr", "activation", "l2", "dropout", "batch_size"):
        exp = preset_experiment("optimizer_race") if key == "optimizer" else make_experiment(
            BASE, key, {"lr": ["0.01", "0.1"], "activation": ["relu", "tanh"], "l2": ["0", "0.001"],
                        "dropout": ["0", "0.2"], "batch_size": ["32", "64"]}[key])
        starts = [initial_params(c) for c in exp.configs()]
        for params in starts[1:]:
            for (W0, b0), (W, b) in zip(starts[0], params):
                np.testing.assert_array_equal(W, W0)
                np.testing.assert_array_equal(b, b0)
    assert "cannot start from the same weights" in make_experiment(BASE, "hidden", ["8", "16"]).held_equal()
    assert "only lr differs" in make_experiment(BASE, "lr", ["0.01", "0.1"]).held_equal()


def test_runs_of_an_experiment_share_their_first_step():
    """The issue's check: same seed and architecture -> identical weights and batches, so the
    step-1 losses (measured before the first update) agree to 1e-6, whatever the optimizer or lr."""
    split = data.make_split(data.load_shipped_sample(), BASE.val_fraction, BASE.seed)
    exp = make_experiment(BASE, "optimizer", ["sgd", "adam", "rmsprop"])
    runs = [run_to_end(Run(config, split, impls=("numpy",), name=label))
            for config, label in zip(exp.configs(), exp.labels)]
    first = [run.records("numpy")[0].loss for run in runs]
    assert max(first) - min(first) <= 1e-6, first
    results = [run_result(label, "numpy", run.records("numpy"), run.status) for label, run in zip(exp.labels, runs)]
    assert all(r.outcome == "done" and r.best_epoch == 1 and 0 < r.final_val_acc <= 1 for r in results)
    assert all(r.first_loss == first[0] for r in results)


def record(step, epoch, val_acc=None, event=None, loss=1.0):
    return Record("numpy", step, epoch, step * 10, loss, 0.5, 100.0, 0.01, step * 0.1,
                  val_acc=val_acc, val_loss=None if val_acc is None else 0.5, event=event)


def test_run_result_reads_best_epoch_and_final_accuracy():
    records = [record(1, 1, 0.5), record(2, 1, 0.7, "epoch_end"), record(3, 2, 0.9),
               record(4, 2, 0.8, "epoch_end"), record(5, 3, 0.75, "done")]
    r = run_result("lr=0.1", "numpy", records, "done")
    assert (r.final_val_acc, r.best_val_acc, r.best_epoch) == (0.75, 0.8, 2)   # epoch ends only
    assert r.seconds == pytest.approx(0.5) and r.samples_per_s == 100.0 and not r.diverged
    blew_up = run_result("lr=9", "numpy", records[:3] + [record(4, 2, None, "diverged", float("nan"))], "diverged")
    assert blew_up.diverged and blew_up.final_val_acc is None and blew_up.best_epoch == 1
    empty = run_result("lr=1", "numpy", [], "queued")
    assert empty.final_val_acc is None and empty.best_epoch is None and empty.first_loss is None


def result(name, outcome, acc):
    return run_result(name, "numpy", [record(1, 1, acc, "done" if outcome == "done" else outcome)], outcome)


def test_verdict_is_computed_from_the_results():
    line = verdict([result("optimizer=sgd", "done", 0.912), result("optimizer=adam", "done", 0.961),
                    result("optimizer=rmsprop", "diverged", 0.1)])
    assert line == ("optimizer=adam reached the best final validation accuracy, 96.1%; optimizer=sgd "
                    "the lowest, 91.2%; optimizer=rmsprop diverged (the loss blew up).")
    assert verdict([result("lr=1", "diverged", None), result("lr=3", "diverged", None)]) == (
        "lr=1 and lr=3 diverged (the loss blew up).")
    assert verdict([result("a=1", "done", 0.951), result("a=2", "done", 0.953), result("a=3", "stopped", 0.5)]) == (
        "The 2 finished runs ended within half a point of each other (95.1% to 95.3%); a=3 did not finish.")
    assert verdict([]) == "No run has ended yet."


@pytest.mark.parametrize("key, texts", [("lr", ["0.00012345678", "3"]), ("hidden", ["128-64", "none", "32"]),
                                        ("batch_size", ["32", "0"]), ("optimizer", ["sgd", "adam"])])
def test_an_experiments_spec_survives_json_exactly(key, texts):
    experiment = make_experiment(TrainConfig(hidden=(16,)), key, texts)
    spec = json.loads(json.dumps(ExperimentRuns(experiment, "torch", []).spec()))   # as the run store keeps it
    assert experiment_from_spec(spec) == (experiment, "torch")
    assert spec["labels"] == experiment.labels


def lesson_runs(name: str) -> dict:
    """A preset's runs on the shipped sample (NumPy twin, in this process): label -> records."""
    from nn_core.trainer import train
    from nn_core.twins import make_twin
    exp = preset_experiment(name)
    split = data.make_split(data.load_shipped_sample(), seed=exp.base.seed)
    return {label: list(train(make_twin("numpy", config, initial_params(config)), split, config))
            for config, label in zip(exp.configs(), exp.labels)}


def test_the_initialisation_lesson_is_what_its_runs_show():
    """'He and Xavier start near 2.3 and learn; uniform[-0.5, 0.5) starts several times higher and
    ends behind; all zeros never breaks the symmetry' (the sentence the page shows)."""
    runs = lesson_runs("initialisation")
    first = {label: records[0].loss for label, records in runs.items()}
    final = {label: records[-1].val_acc for label, records in runs.items()}
    assert abs(first["init=he"] - 2.3) < 0.3 and abs(first["init=xavier"] - 2.3) < 0.3
    assert first["init=uniform"] > 3 * first["init=he"]
    assert final["init=uniform"] < min(final["init=he"], final["init=xavier"]) - 0.02
    assert final["init=zeros"] < 0.2 < 0.85 < min(final["init=he"], final["init=xavier"])


def test_the_sigmoid_vs_relu_lesson_is_what_its_runs_show():
    runs = lesson_runs("sigmoid_vs_relu")
    final = {label: records[-1].val_acc for label, records in runs.items()}
    assert final["activation=sigmoid"] < 0.5 < 0.85 < final["activation=relu"]


def test_the_optimizer_race_and_learning_rate_lessons_are_what_their_runs_show():
    race = {label: records[-1].val_loss for label, records in lesson_runs("optimizer_race").items()}
    slowest_other = max(loss for label, loss in race.items() if label != "optimizer=sgd")
    assert race["optimizer=sgd"] > 2 * slowest_other          # plain SGD creeps, the others are faster
    rates = lesson_runs("learning_rate")
    assert rates["lr=0.001"][-1].val_loss > 2.0               # too small: barely moved in five epochs
    assert rates["lr=0.1"][-1].val_acc > 0.9
    assert rates["lr=3"][-1].event == "diverged"              # too big: the loss blows up

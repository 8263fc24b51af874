"""The two twins trained by nn_core.trainer.train: same batches, same numbers, same records."""

import dataclasses
import math

import numpy as np
import pytest

from nn_core.config import TrainConfig
from nn_core.data import load_shipped_sample, make_split
from nn_core.trainer import EXPLODED_LOSS, Record, epoch_order, train
from nn_core.twins import IMPLS, initial_params, make_twin

torch = pytest.importorskip("torch")

LR = {"sgd": 0.1, "momentum": 0.05, "nesterov": 0.05, "rmsprop": 1e-3, "adam": 1e-3}


@pytest.fixture(scope="module")
def split32():
    return make_split(load_shipped_sample(), dtype=np.float32)


@pytest.fixture(scope="module")
def split64():
    return make_split(load_shipped_sample(), dtype=np.float64)


@pytest.fixture(scope="module")
def small_split(split32):
    """400 training rows: for tests about records and events rather than numbers."""
    return dataclasses.replace(split32, x_train=split32.x_train[:400], y_train=split32.y_train[:400],
                               x_val=split32.x_val[:100], y_val=split32.y_val[:100])


def run_both(config, split, **kwargs):
    config = config.validated()
    params0 = initial_params(config)
    return {impl: list(train(make_twin(impl, config, params0, device="cpu"), split, config, **kwargs))
            for impl in IMPLS}


def losses(records):
    return np.array([r.loss for r in records])


# The defaults (784-128-64-10, momentum, ReLU, batch 64), then every optimizer and activation on a
# narrower network (for speed).
SMALL = TrainConfig(epochs=1, hidden=(32, 16))
CONFIGS = [TrainConfig(epochs=1)] + \
          [SMALL.replace(optimizer=o, lr=LR[o]) for o in LR] + \
          [SMALL.replace(activation=a, init="xavier") for a in ("leaky_relu", "sigmoid", "tanh")] + \
          [SMALL.replace(hidden=(), l2=1e-3, batch_size=100), SMALL.replace(hidden=(16, 16, 16, 16), l2=1e-3)]


def config_id(c):
    return f"{c.optimizer}-{c.activation}-{'x'.join(map(str, c.hidden)) or 'none'}"


@pytest.mark.parametrize("config", CONFIGS, ids=config_id)
def test_float32_twins_agree_every_step_of_the_first_epoch(config, split32):
    out = run_both(config, split32)
    steps = math.ceil(len(split32.x_train) / config.batch_size)
    assert [len(out[impl]) for impl in IMPLS] == [steps, steps]
    gap = np.abs(losses(out["numpy"]) - losses(out["torch"])).max()
    assert gap <= 1e-3
    for a, b in zip(out["numpy"], out["torch"]):
        assert (a.step, a.epoch, a.samples_seen) == (b.step, b.epoch, b.samples_seen)
        assert (a.val_loss is None) == (b.val_loss is None)
        if a.val_loss is not None:
            assert a.val_loss == pytest.approx(b.val_loss, abs=1e-3)
            assert a.val_acc == pytest.approx(b.val_acc, abs=2 / len(split32.y_val))  # a near-tie may flip
    assert out["numpy"][-1].loss < out["numpy"][0].loss   # it learns


def test_float64_twins_agree_far_closer_than_float32(split32, split64):
    config = TrainConfig(epochs=1, hidden=(32, 16))
    gap32 = np.abs(np.subtract(*[losses(r) for r in run_both(config, split32).values()])).max()
    out64 = run_both(config.replace(dtype="float64"), split64)
    gap64 = np.abs(losses(out64["numpy"]) - losses(out64["torch"])).max()
    assert gap64 < 1e-9
    assert gap64 < gap32 / 100
    assert all(isinstance(r.loss, float) for r in out64["numpy"] + out64["torch"])


def test_same_seed_same_records_other_seed_other_records(small_split):
    config = TrainConfig(epochs=2, hidden=(16,), batch_size=32, dropout=0.2).validated()

    def numpy_losses(cfg):
        twin = make_twin("numpy", cfg, initial_params(cfg))
        return [(r.loss, r.train_acc, r.val_loss) for r in train(twin, small_split, cfg)]

    first = numpy_losses(config)
    assert numpy_losses(config) == first                        # exactly, dropout included
    assert numpy_losses(config.replace(seed=1)) != first


def test_epoch_order_is_a_seeded_permutation():
    order = epoch_order(0, 1, 1000)
    assert order.dtype.kind == "i" and sorted(order) == list(range(1000))
    np.testing.assert_array_equal(order, epoch_order(0, 1, 1000))
    assert not np.array_equal(order, epoch_order(0, 2, 1000))    # reshuffled every epoch
    assert not np.array_equal(order, epoch_order(1, 1, 1000))    # and by the seed
    assert not np.array_equal(order, np.arange(1000))


def test_both_twins_see_the_same_batches_in_the_same_order(small_split):
    config = TrainConfig(hidden=(4,), batch_size=48).validated()
    params0 = initial_params(config)
    order = epoch_order(config.seed, 1, len(small_split.x_train))
    seen = {}
    for impl in IMPLS:
        twin = make_twin(impl, config, params0, device="cpu")
        seen[impl] = [(np.array(xb), np.array(yb))          # copies: a batch is used before the next
                      for xb, yb in twin.batches(small_split.x_train, small_split.y_train, order, 48)]
    assert [len(yb) for _, yb in seen["numpy"]] == [48] * 8 + [16]   # the last batch is short
    for (xn, yn), (xt, yt) in zip(seen["numpy"], seen["torch"], strict=True):
        np.testing.assert_array_equal(yn, yt)
        np.testing.assert_array_equal(xn, xt)
    rows = np.concatenate([yb for _, yb in seen["numpy"]])
    np.testing.assert_array_equal(rows, small_split.y_train[order])


def test_records_have_the_same_fields_and_shape(small_split):
    config = TrainConfig(epochs=2, hidden=(8, 4), batch_size=64, eval_every=3, diag_every=2)
    out = run_both(config, small_split)
    fields = [f.name for f in dataclasses.fields(Record)]
    for impl, records in out.items():
        assert all(r.impl == impl for r in records)
        assert all(list(r.to_dict()) == fields for r in records)
    for a, b in zip(out["numpy"], out["torch"], strict=True):
        # the same fields are filled in on the same steps
        assert {k for k, v in a.to_dict().items() if v is None} == {k for k, v in b.to_dict().items() if v is None}
        assert a.event == b.event
        if a.grad_norm is not None:
            assert len(a.grad_norm) == len(a.weight_norm) == len(a.update_ratio) == len(b.grad_norm) == 3
            np.testing.assert_allclose(a.grad_norm, b.grad_norm, rtol=1e-3)
            np.testing.assert_allclose(a.weight_norm, b.weight_norm, rtol=1e-4)
            np.testing.assert_allclose(a.update_ratio, b.update_ratio, rtol=1e-2)
            n_per_layer = [784 * 8 + 8, 8 * 4 + 4, 4 * 10 + 10]
            np.testing.assert_allclose(a.grad_norm_scaled, np.divide(a.grad_norm, np.sqrt(n_per_layer)))
    steps = out["numpy"]
    assert [r.step for r in steps] == list(range(1, 15))
    assert [r.step for r in steps if r.grad_norm is not None] == [1, 3, 5, 7, 9, 11, 13]   # step % 2 == 0 before it
    # validation: step 1, every 3rd step, and each epoch's end (7 and 14)
    assert [r.step for r in steps if r.val_loss is not None] == [1, 3, 6, 7, 9, 12, 14]
    for r in steps:
        assert 0 <= r.train_acc <= 1 and r.samples_per_s > 0 and r.step_time > 0 and r.wall_time > 0


def test_epoch_end_and_done_records(small_split):
    config = TrainConfig(epochs=3, hidden=(8,), batch_size=128)
    out = run_both(config, small_split)
    for impl, records in out.items():
        epoch = [None] * 3
        assert [r.event for r in records] == epoch + ["epoch_end"] + epoch + ["epoch_end"] + epoch + ["done"]
        done = records[-1]
        assert done.message == "finished 3 epochs (12 steps)."
        assert done.step == 12 and done.epoch == 3 and done.samples_seen == 3 * 400
        assert done.val_loss is not None and done.val_acc is not None
        assert records[3].samples_seen == 400 and records[4].epoch == 2
    assert out["numpy"][-1].to_dict().keys() == out["torch"][-1].to_dict().keys()


def test_full_batch():
    split = make_split(load_shipped_sample(), dtype=np.float32)
    split = dataclasses.replace(split, x_train=split.x_train[:300], y_train=split.y_train[:300])
    out = run_both(TrainConfig(epochs=2, hidden=(8,), batch_size=0, optimizer="sgd", lr=0.5), split)
    for records in out.values():
        assert [(r.step, r.samples_seen, r.event) for r in records] == [(1, 300, "epoch_end"), (2, 600, "done")]
    assert np.abs(losses(out["numpy"]) - losses(out["torch"])).max() < 1e-5


def test_sgd_with_a_huge_learning_rate_diverges_for_both_twins(split32):
    out = run_both(TrainConfig(epochs=1, optimizer="sgd", lr=50), split32)
    for impl, records in out.items():
        last = records[-1]
        assert last.event == "diverged", impl
        assert last.step <= 20
        assert "the loss became " in last.message and f"at step {last.step};" in last.message and "lower the learning rate" in last.message
        assert f"at step {last.step};" in last.message and "(it is 50)" in last.message
        assert not math.isfinite(last.loss) or last.loss > EXPLODED_LOSS
        assert all(math.isfinite(r.loss) and r.event is None for r in records[:-1])
    assert out["numpy"][-1].step == out["torch"][-1].step


@pytest.mark.parametrize("hidden, lr", [((64, 32), 50.0), ((128, 64), 5.0)])
def test_a_loss_that_explodes_but_stays_finite_still_counts_as_diverged(split32, hidden, lr):
    # Left alone these runs blow the loss up to ~1e9, kill every ReLU and crawl back to chance
    # level (loss 2.3, accuracy 10%), looking "done". They must stop early instead.
    out = run_both(TrainConfig(epochs=1, hidden=hidden, optimizer="sgd", lr=lr), split32)
    for impl, records in out.items():
        last = records[-1]
        assert last.event == "diverged", impl
        assert last.step <= 20
        assert "(it exploded)" in last.message or "NaN/inf" in last.message
        assert f"lower the learning rate (it is {lr:g})" in last.message


def test_dropout_runs_and_stays_finite(small_split):
    out = run_both(TrainConfig(epochs=2, hidden=(32, 16), dropout=0.5, batch_size=32), small_split)
    for impl, records in out.items():
        assert records[-1].event == "done"
        assert all(math.isfinite(r.loss) for r in records)
        assert records[-1].val_loss is not None and math.isfinite(records[-1].val_loss)
    # both twins drop the same units on every step, so they stay together (float32 rounding only)
    assert np.abs(losses(out["numpy"]) - losses(out["torch"])).max() < 1e-4


@pytest.mark.parametrize("optimizer", ["momentum", "adam"])
def test_float64_twins_with_dropout_agree_to_1e_12_through_an_epoch(optimizer, split64):
    """Shared dropout masks: the twins train the same sub-network on every step."""
    config = TrainConfig(epochs=1, hidden=(32, 16), dropout=0.3, dtype="float64", optimizer=optimizer,
                         lr=LR[optimizer])
    out = run_both(config, split64)
    steps = math.ceil(len(split64.x_train) / config.batch_size)
    assert [len(out[impl]) for impl in IMPLS] == [steps, steps]
    gap = np.abs(losses(out["numpy"]) - losses(out["torch"])).max()
    assert gap <= 1e-12, gap
    # and dropout did change the training: the same run without it gives other losses
    plain = run_both(config.replace(dropout=0.0), split64)["numpy"]
    assert np.abs(losses(plain) - losses(out["numpy"])).max() > 1e-3


def test_wall_time_cap_ends_with_a_limit_record(small_split):
    out = run_both(TrainConfig(epochs=5, hidden=(8,), batch_size=32), small_split, max_seconds=1e-9)
    for records in out.values():
        assert len(records) == 1
        assert records[0].event == "limit"
        assert "NN_MAX_SECONDS" in records[0].message and "at step 1" in records[0].message


def test_stopping_yields_a_stopped_record_without_rewriting_history(small_split):
    config = TrainConfig(epochs=2, hidden=(8,), batch_size=100).validated()   # 4 steps per epoch
    for impl in IMPLS:
        twin = make_twin(impl, config, initial_params(config), device="cpu")
        turns = iter([True] * 4 + [False])
        records = list(train(twin, small_split, config, wait_turn=lambda: next(turns)))
        assert [r.event for r in records] == [None, None, None, "epoch_end", "stopped"]
        assert records[-1].message == "stopped by the user after step 4."
        assert records[-1] is not records[-2]                        # a new record, the old one kept
        assert records[-1].step == records[-2].step == 4

        twin = make_twin(impl, config, initial_params(config), device="cpu")
        records = list(train(twin, small_split, config, wait_turn=lambda: False))
        assert len(records) == 1 and records[0].event == "stopped" and records[0].step == 0

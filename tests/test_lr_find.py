"""nn_core.lr_find: the exponential ramp, the smoothing, the stop on divergence, the suggestion."""

import math

import numpy as np
import pytest

from nn_core import data
from nn_core.config import TrainConfig
from nn_core.lr_find import (DEFAULT_SUGGESTION, END_LR, RULE, START_LR, SUGGESTIONS, find_lr,
                             lr_schedule, minimum_over_ten, smoothed_losses, steepest_fall, valley)
from nn_core.run import Run, run_to_end


@pytest.fixture(scope="module")
def shipped():
    return data.load_shipped_sample()


def split_for(config, dataset):
    return data.make_split(dataset, config.val_fraction, config.seed, dtype=config.dtype)


def test_schedule_rises_exponentially_from_1e_6_to_10():
    lrs = lr_schedule(200)
    assert len(lrs) == 200 and lrs[0] == pytest.approx(START_LR) and lrs[-1] == pytest.approx(END_LR)
    ratios = lrs[1:] / lrs[:-1]
    np.testing.assert_allclose(ratios, ratios[0], rtol=1e-9)        # the same factor every step


def test_smoothing_is_bias_corrected():
    """A constant loss stays that constant from the first step (without the correction the
    average would start near 0)."""
    np.testing.assert_allclose(smoothed_losses([2.0] * 5), 2.0)
    beta = 0.9
    by_hand = (beta * (1 - beta) * 3.0 + (1 - beta) * 1.0) / (1 - beta ** 2)
    assert smoothed_losses([3.0, 1.0], beta)[-1] == pytest.approx(by_hand)


def falling_then_blowing_up():
    """50 rates from 1e-4 to 1; a loss that falls fastest at lr 1e-2, is lowest at probe 39, then
    blows up."""
    lrs = np.geomspace(1e-4, 1, 50)
    loss = 2 - np.tanh(3 * (np.log10(lrs) + 2))
    loss[40:] = np.linspace(loss[39], 10, 10)
    return lrs, loss


def test_steepest_fall_is_where_the_smoothed_loss_falls_fastest():
    lrs, loss = falling_then_blowing_up()
    assert steepest_fall(lrs, loss, skip_start=5) == pytest.approx(1e-2, rel=0.2)


def test_minimum_over_ten_is_a_tenth_of_the_rate_at_the_lowest_loss():
    lrs, loss = falling_then_blowing_up()
    assert minimum_over_ten(lrs, loss, skip_start=5) == pytest.approx(lrs[39] / 10)


def test_valley_is_halfway_along_the_longest_fall_even_across_a_bump():
    lrs, loss = falling_then_blowing_up()
    assert valley(lrs, loss, skip_start=5) == pytest.approx(lrs[(5 + 39) // 2])
    loss[15] += 0.05                               # one noisy probe: the valley steps over it
    assert valley(lrs, loss, skip_start=5) == pytest.approx(lrs[(5 + 39) // 2])


@pytest.mark.parametrize("rule", SUGGESTIONS)
def test_no_suggestion_when_the_loss_never_fell(rule):
    assert SUGGESTIONS[rule][0](np.geomspace(1e-4, 1, 50), np.linspace(1, 3, 50)) is None


class ExplodingTwin:
    """A stand-in twin whose loss falls, then becomes NaN once the learning rate passes 0.01."""
    impl = "numpy"

    def __init__(self):
        self.lr, self.steps = None, 0

    def set_lr(self, lr):
        self.lr = lr

    def batches(self, x, y, order, batch_size):
        for start in range(0, len(order), batch_size):
            yield x[order[start:start + batch_size]], y[order[start:start + batch_size]]

    def train_step(self, xb, yb, diagnose=False):
        self.steps += 1
        return (math.nan if self.lr > 0.01 else 2.3 - 0.1 * math.log10(self.lr / 1e-6)), 0, None


def test_stops_at_the_first_nan(monkeypatch, shipped):
    import nn_core.lr_find as lr_find
    twin = ExplodingTwin()
    monkeypatch.setattr(lr_find, "make_twin", lambda impl, config, params: twin)
    finding = find_lr(TrainConfig(hidden=(8,)), split_for(TrainConfig(), shipped))
    lrs = lr_schedule()
    first_nan = int(np.argmax(lrs > 0.01)) + 1
    assert finding.stopped_early and twin.steps == first_nan == len(finding.probes)
    assert math.isnan(finding.probes[-1].loss)
    assert finding.suggested_lr is not None and finding.suggested_lr <= 0.01
    assert "where the smoothed loss passed 4x its lowest value" in finding.message


def test_sgd_on_the_shipped_sample_stops_early_on_divergence(shipped):
    config = TrainConfig(optimizer="sgd")
    finding = find_lr(config, split_for(config, shipped))
    smoothed = [p.smoothed for p in finding.probes]
    assert finding.stopped_early and finding.probes[-1].lr < END_LR
    assert smoothed[-1] > 4 * min(smoothed[:-1])          # it stopped because of the 4x rule
    assert all(s <= 4 * min(smoothed[:i + 1]) for i, s in enumerate(smoothed[:-1]))   # not before


@pytest.mark.parametrize("impl", ["numpy", "torch"])
def test_both_twins_give_the_same_probes(impl, shipped):
    config = TrainConfig(hidden=(32,), optimizer="adam")
    # Up to lr 0.1 only: past it Adam's steps blow the weights up, and float32 rounding differences
    # between the twins grow without bound there.
    finding = find_lr(config, split_for(config, shipped), impl, steps=60, end=0.1)
    reference = find_lr(config, split_for(config, shipped), "numpy", steps=60, end=0.1)
    np.testing.assert_allclose([p.loss for p in finding.probes], [p.loss for p in reference.probes],
                               rtol=1e-4)
    assert finding.impl == impl


def test_default_network_at_the_suggested_rate_reaches_95_percent(shipped):
    """The issue's check: the finder's suggestion (minimum/10) trains the default network well.
    Measured (benchmarks/bench_lr_find.py, README): seed 0 ends at 95.3% (953 of 1,000: 3 digits above
    the goal; the default lr 0.1, the best rate measured, reaches 95.5%, so no rule can have much more
    margin on this network), seed 2 too; seed 1's split ends at 93.9% (94.6% at 0.1). The steepest-fall
    rule's 0.0318 ended at 94.9-95.0% here: no margin."""
    assert DEFAULT_SUGGESTION == "minimum/10"
    config = TrainConfig()
    split = split_for(config, shipped)
    finding = find_lr(config, split)
    assert finding.suggested_lr is not None
    run = run_to_end(Run(config.replace(lr=finding.suggested_lr), split, impls=("numpy",)))
    final = run.records("numpy")[-1]
    print(f"\nsuggested lr {finding.suggested_lr:.3g}: val_acc {final.val_acc:.4f} after {final.epoch} epochs")
    assert final.event == "done" and final.val_acc >= 0.95


@pytest.mark.parametrize("rule", SUGGESTIONS)
def test_each_rule_is_explained_in_one_sentence(rule):
    sentence = SUGGESTIONS[rule][1]
    assert sentence.count(". ") == 0 and sentence.endswith(".")
    assert RULE == SUGGESTIONS[DEFAULT_SUGGESTION][1]

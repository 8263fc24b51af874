"""The parity heart: hand-written backprop == torch autograd == finite differences, in float64."""

import itertools
import math
import sys

import numpy as np
import pytest

from nn_core import functional
from nn_core.gradcheck import AUTOGRAD_TOL, FINITE_DIFF_TOL, gradient_check, relative_error

ACTIVATIONS = ("relu", "leaky_relu", "sigmoid", "tanh")
WIDTHS = (12, 10, 8, 6)   # small, for speed; depth d uses the first d
CASES = list(itertools.product(ACTIVATIONS, (1, 2, 3, 4), (0.0, 1e-2)))


@pytest.mark.parametrize("activation,depth,l2", CASES,
                         ids=[f"{a}-{d}hidden-l2={l2:g}" for a, d, l2 in CASES])
def test_backprop_matches_autograd_and_finite_differences(activation, depth, l2):
    pytest.importorskip("torch")
    report = gradient_check(hidden=WIDTHS[:depth], activation=activation, l2=l2)
    assert report.autograd_checked
    assert len(report.rows) == 2 * (depth + 1)
    assert report.max_autograd <= AUTOGRAD_TOL == 1e-7, report.rows
    assert report.max_finite_diff <= FINITE_DIFF_TOL == 1e-5, report.rows
    assert all(row["probes"] > 0 for row in report.rows)
    assert report.passed


# The architectures on which the page once told learners that correct backprop was wrong, and a
# grid around them: depths 1-8, widths 1-64, every activation.
DEEP_CASES = [((1, 1), "relu"), ((64,) * 8, "sigmoid"), ((4,) * 8, "sigmoid"), ((1,) * 4, "relu"),
              ((1,) * 4, "leaky_relu")] + \
             [((width,) * depth, activation) for activation in ACTIVATIONS
              for depth in range(1, 9) for width in (1, 4, 16, 64)]


@pytest.mark.parametrize("hidden,activation", DEEP_CASES,
                         ids=[f"{a}-{'x'.join(map(str, h))}" for h, a in DEEP_CASES])
def test_no_false_fail_on_deep_narrow_or_vanishing_networks(hidden, activation):
    pytest.importorskip("torch")
    report = gradient_check(hidden=hidden, activation=activation, n_probes=8)
    assert report.max_autograd <= AUTOGRAD_TOL, report.rows
    for row in report.rows:
        if row["probes"]:
            assert row["finite_diff_rel_err"] <= FINITE_DIFF_TOL, row
        else:
            assert math.isnan(row["finite_diff_rel_err"]), row      # not checked, so not failed
    assert report.passed, report.rows


def test_a_row_with_nothing_probed_does_not_fail():
    # 784-1-1-10 ReLU: the first unit is off for every digit, so Z2 = b2 = 0 exactly and any nudge
    # of b2 crosses ReLU's kink; b2 cannot be probed, every other row can.
    report = gradient_check(hidden=(1, 1), activation="relu")
    unprobed = [(r["param"], r["layer"]) for r in report.rows if r["probes"] == 0]
    assert unprobed == [("b", 2)]
    assert report.passed and math.isfinite(report.max_finite_diff)


def test_the_two_nudged_losses_differ_around_the_9th_digit():
    """The page says where L(w + eps) and L(w - eps) part: measured, not assumed."""
    report = gradient_check()
    assert report.first_differing_digit in (8, 9, 10)
    assert 1e-10 < report.fd_noise < 2e-9          # ~machine eps * L / eps, L ~ 2.3, eps = 1e-6


def test_report_rows_describe_every_parameter():
    report = gradient_check(hidden=(5, 4), activation="tanh", n_probes=7)
    assert [(r["layer"], r["param"], r["shape"]) for r in report.rows] == [
        (1, "W", (784, 5)), (1, "b", (5,)), (2, "W", (5, 4)), (2, "b", (4,)), (3, "W", (4, 10)), (3, "b", (10,))]
    assert [r["probes"] for r in report.rows] == [7, 5, 7, 4, 7, 7]   # at most the parameter's size
    assert report.max_finite_diff == max(r["finite_diff_rel_err"] for r in report.rows)
    assert report.max_autograd == max(r["autograd_rel_err"] for r in report.rows)


def test_no_hidden_layer():
    report = gradient_check(hidden=(), activation="relu", l2=1e-2)
    assert len(report.rows) == 2 and report.passed


def test_is_reproducible():
    a, b = gradient_check(seed=3), gradient_check(seed=3)
    assert a.rows == b.rows


def test_relative_error_definition():
    assert relative_error([1.0, 0.0], [1.0, 0.0]) == 0.0
    assert relative_error([0.0], [0.0]) == 0.0                         # no 0/0
    assert relative_error([1.0, 1e-12], [1.0, 2e-12]) == pytest.approx(1e-12 / 2)  # not 1/3 per entry
    assert relative_error([2.0], [1.0]) == pytest.approx(1 / 3)
    assert relative_error([], []) == 0.0
    assert relative_error([1e-8], [1.1e-8], floor=1e-3) == pytest.approx(1e-9 / 1e-3)  # noise floor


def test_a_wrong_derivative_is_caught(monkeypatch):
    """The check must be able to fail: a tanh' that is off by 1 % shows up in both comparisons."""
    right = functional.DERIVATIVES["tanh"]
    monkeypatch.setitem(functional.DERIVATIVES, "tanh", lambda z, a: 1.01 * right(z, a))
    report = gradient_check(hidden=(8,), activation="tanh")
    assert not report.passed
    assert report.max_finite_diff > 1e-4
    assert report.max_autograd > 1e-4
    bad = {(r["layer"], r["param"]) for r in report.rows if r["finite_diff_rel_err"] > 1e-4}
    assert bad == {(1, "W"), (1, "b")}   # only the layer below the activation is affected


def test_a_forgotten_l2_term_is_caught(monkeypatch):
    from nn_core.numpy_mlp import NumpyMLP
    backward = NumpyMLP.backward
    monkeypatch.setattr(NumpyMLP, "backward", lambda self, logits, cache, labels, l2=0.0:
                        backward(self, logits, cache, labels, 0.0))
    assert gradient_check(hidden=(8,), l2=0.0).passed
    assert not gradient_check(hidden=(8,), l2=1e-1).passed


def test_relu_kinks_are_skipped_not_misreported():
    """With a big nudge, some probes cross ReLU's kink; those are skipped, smooth activations never are."""
    relu = gradient_check(hidden=(16,), activation="relu", eps=0.2, n_probes=40)
    tanh = gradient_check(hidden=(16,), activation="tanh", eps=0.2, n_probes=40)
    assert sum(r["probes"] for r in relu.rows) < sum(min(40, math.prod(r["shape"])) for r in relu.rows)
    assert all(r["probes"] == min(40, math.prod(r["shape"])) for r in tanh.rows)


def test_without_torch_only_finite_differences_count(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)            # `import torch` now raises ImportError
    monkeypatch.setitem(sys.modules, "nn_core.torch_mlp", None)
    report = gradient_check(hidden=(6,), activation="sigmoid")
    assert not report.autograd_checked
    assert math.isnan(report.max_autograd)
    assert all(math.isnan(r["autograd_rel_err"]) for r in report.rows)
    assert report.max_finite_diff <= FINITE_DIFF_TOL
    assert report.passed


def test_finite_difference_tolerance_fails_a_broken_report():
    report = gradient_check(hidden=(4,))
    report.max_finite_diff = 2e-5
    assert not report.passed
    report.max_finite_diff, report.max_autograd = 0.0, 2e-7
    assert not report.passed
    report.max_autograd = np.float64(5e-8)
    assert report.passed

"""The NumPy twin's cheap bookkeeping: optimizers report the update they applied, the update ratio
comes from it (no weight copies), and every batch is gathered into the same reused arrays."""

import numpy as np
import pytest

from nn_core.config import TrainConfig
from nn_core.optim import OPTIMIZERS
from nn_core.trainer import epoch_order
from nn_core.twins import initial_params, make_twin


@pytest.mark.parametrize("name", ["sgd", "momentum", "nesterov", "rmsprop", "adam"])
def test_optimizers_report_the_update_they_applied(name):
    rng = np.random.default_rng(0)
    params = [rng.normal(size=(5, 3)), rng.normal(size=3)]
    optimizer = OPTIMIZERS[name](0.1)
    for _ in range(3):
        before = [p.copy() for p in params]
        updates = optimizer.step(params, [rng.normal(size=p.shape) for p in params])
        for p, p0, update in zip(params, before, updates):
            np.testing.assert_allclose(update, p0 - p, rtol=1e-12, atol=1e-15)


def test_update_ratio_without_copies_equals_the_ratio_from_copies():
    config = TrainConfig(hidden=(16, 8), optimizer="momentum", lr=0.1, dtype="float64").validated()
    twin = make_twin("numpy", config, initial_params(config))
    rng = np.random.default_rng(1)
    x, y = rng.random((32, 784)), rng.integers(0, 10, 32)
    for _ in range(3):                                  # momentum: the update is not just lr * g
        before = [W.copy() for W in twin.model.weights]
        _, _, diag = twin.train_step(x, y, diagnose=True)
        after = twin.model.weights
        expected = [np.linalg.norm(w1 - w0) / np.linalg.norm(w0) for w0, w1 in zip(before, after)]
        np.testing.assert_allclose(diag["update_ratio"], expected, rtol=1e-9)
        np.testing.assert_allclose(diag["weight_norm"], [np.linalg.norm(w) for w in after], rtol=1e-12)


def test_numpy_batches_are_gathered_into_one_reused_batch():
    config = TrainConfig(hidden=(4,), batch_size=3).validated()
    twin = make_twin("numpy", config, initial_params(config))
    x = np.arange(10 * 784, dtype=np.float32).reshape(10, 784)
    y = np.arange(10)
    order = epoch_order(0, 1, 10)
    seen, arrays = [], []
    for xb, yb in twin.batches(x, y, order, 3):             # used before the next is fetched
        np.testing.assert_array_equal(xb, x[yb])
        assert xb.flags.c_contiguous and not np.shares_memory(xb, x)
        seen.append(yb.copy())
        arrays.append(xb)
    assert [len(yb) for yb in seen] == [3, 3, 3, 1]
    np.testing.assert_array_equal(np.concatenate(seen), order)
    assert all(np.shares_memory(xb, arrays[0]) for xb in arrays)   # one batch of memory, reused
    again = next(twin.batches(x, y, epoch_order(0, 2, 10), 3))[0]
    assert np.shares_memory(again, arrays[0])                        # next epoch too


def test_loss_and_gradient_from_one_log_softmax_match_the_separate_functions():
    from nn_core.functional import cross_entropy, cross_entropy_and_grad, cross_entropy_grad, softmax
    rng = np.random.default_rng(2)
    logits, labels = rng.normal(scale=5, size=(7, 10)), rng.integers(0, 10, 7)
    loss, grad = cross_entropy_and_grad(logits, labels)
    assert loss == pytest.approx(cross_entropy(logits, labels), rel=1e-15)
    np.testing.assert_allclose(grad, cross_entropy_grad(softmax(logits), labels), rtol=1e-12, atol=1e-15)


def test_twin_step_equals_the_lesson_path():
    """train_step (buffers, one log-softmax) moves the weights exactly as loss_and_grads + SGD would."""
    config = TrainConfig(hidden=(16, 8), optimizer="sgd", lr=0.1, dtype="float64", l2=1e-3).validated()
    params0 = initial_params(config)
    twin = make_twin("numpy", config, params0)
    lesson = make_twin("numpy", config, params0).model
    rng = np.random.default_rng(3)
    for _ in range(3):
        x, y = rng.random((20, 784)), rng.integers(0, 10, 20)
        loss, _, _ = twin.train_step(x, y)
        expected_loss, _, grads = lesson.loss_and_grads(x, y, config.l2)
        for p, g in zip(lesson.parameters, grads):
            p -= config.lr * g
        assert loss == pytest.approx(expected_loss, rel=1e-12)
        for a, b in zip(twin.model.parameters, lesson.parameters):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)

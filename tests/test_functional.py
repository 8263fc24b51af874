"""nn_core.functional against torch: activations, their derivatives, softmax, cross-entropy."""

import warnings

import numpy as np
import pytest

from nn_core import functional as F

torch = pytest.importorskip("torch")

TORCH_ACTIVATIONS = {
    "relu": torch.relu,
    "leaky_relu": lambda z: torch.nn.functional.leaky_relu(z, F.LEAKY_SLOPE),
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
}


def sample_z(dtype=np.float64, n=2000, seed=0):
    """Pre-activations spread over [-8, 8], avoiding exactly 0 (where ReLU's slope is a convention)."""
    z = np.random.default_rng(seed).uniform(-8, 8, size=(40, n // 40)).astype(dtype)
    z[np.abs(z) < 1e-3] = 0.5
    return z


def test_activation_tables_cover_the_same_names():
    assert set(F.ACTIVATIONS) == set(F.DERIVATIVES) == {"relu", "leaky_relu", "sigmoid", "tanh"}


@pytest.mark.parametrize("name", sorted(F.ACTIVATIONS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_activation_matches_torch(name, dtype):
    z = sample_z(dtype)
    ours = F.ACTIVATIONS[name](z)
    theirs = TORCH_ACTIVATIONS[name](torch.from_numpy(z)).numpy()
    assert ours.dtype == dtype and ours.shape == z.shape
    tol = 1e-6 if dtype == np.float32 else 1e-15
    np.testing.assert_allclose(ours, theirs, rtol=tol, atol=tol)


@pytest.mark.parametrize("name", sorted(F.ACTIVATIONS))
def test_derivative_matches_autograd(name):
    z = sample_z(np.float64)
    a = F.ACTIVATIONS[name](z)
    ours = F.DERIVATIVES[name](z, a)
    zt = torch.from_numpy(z).requires_grad_(True)
    TORCH_ACTIVATIONS[name](zt).sum().backward()   # elementwise, so d(sum)/dz_i = f'(z_i)
    np.testing.assert_allclose(ours, zt.grad.numpy(), rtol=1e-12, atol=1e-15)
    assert ours.dtype == np.float64


def test_relu_family_at_and_around_zero():
    z = np.array([-2.0, -1e-9, 0.0, 1e-9, 3.0])
    np.testing.assert_array_equal(F.relu(z), [0, 0, 0, 1e-9, 3])
    np.testing.assert_allclose(F.leaky_relu(z), [-0.02, -1e-11, 0, 1e-9, 3])
    # torch's convention: the slope at exactly 0 is that of the left side
    np.testing.assert_array_equal(F.DERIVATIVES["relu"](z, F.relu(z)), [0, 0, 0, 1, 1])
    np.testing.assert_allclose(F.DERIVATIVES["leaky_relu"](z, None), [0.01, 0.01, 0.01, 1, 1])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_extreme_inputs_do_not_overflow(dtype):
    z = np.array([-1e6, -1000.0, -100.0, -30.0, 0.0, 30.0, 100.0, 1000.0, 1e6], dtype=dtype)
    with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise"):
        warnings.simplefilter("error")
        s = F.sigmoid(z)
    assert s.dtype == dtype and np.isfinite(s).all()
    assert s[0] == 0 and s[-1] == 1 and s[4] == 0.5
    assert np.all(np.diff(s) >= 0)
    np.testing.assert_allclose(s, torch.sigmoid(torch.from_numpy(z)).numpy(), rtol=1e-6, atol=1e-30)
    # and its derivative is 0 (not NaN) out in the tails
    d = F.DERIVATIVES["sigmoid"](z, s)
    assert np.isfinite(d).all() and d[0] == 0 and d[-1] == 0 and d[4] == 0.25


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_rows_sum_to_one_even_with_huge_logits(dtype):
    rng = np.random.default_rng(1)
    logits = (rng.normal(size=(6, 10)) * np.array([1, 1e2, 1e4, 1e30, -1e30, 0])[:, None]).astype(dtype)
    logits[5] = 3.0  # all equal: uniform
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        p = F.softmax(logits)
    assert p.shape == (6, 10) and p.dtype == dtype
    assert np.isfinite(p).all() and (p >= 0).all()
    np.testing.assert_allclose(p.sum(axis=1), 1, rtol=1e-6)
    np.testing.assert_allclose(p[5], 0.1, rtol=1e-6)
    np.testing.assert_allclose(p, torch.softmax(torch.from_numpy(logits), dim=1).numpy(), atol=1e-6)
    assert (p.argmax(axis=1) == logits.argmax(axis=1)).all()


def test_log_softmax_matches_torch():
    logits = np.random.default_rng(2).normal(scale=50, size=(32, 10))
    np.testing.assert_allclose(F.log_softmax(logits),
                               torch.log_softmax(torch.from_numpy(logits), dim=1).numpy(), rtol=1e-13, atol=1e-12)


@pytest.mark.parametrize("scale", [0.1, 5.0, 1e3])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_equals_torch(scale, dtype):
    rng = np.random.default_rng(3)
    logits = (rng.normal(size=(64, 10)) * scale).astype(dtype)
    labels = rng.integers(0, 10, size=64)
    ours = F.cross_entropy(logits, labels)
    theirs = torch.nn.CrossEntropyLoss()(torch.from_numpy(logits), torch.from_numpy(labels)).item()
    assert isinstance(ours, float) and np.isfinite(ours)
    assert ours == pytest.approx(theirs, rel=1e-5 if dtype == np.float32 else 1e-12)


def test_cross_entropy_known_values():
    uniform = np.zeros((4, 10))
    assert F.cross_entropy(uniform, np.array([0, 3, 5, 9])) == pytest.approx(np.log(10), rel=1e-15)
    sure = np.full((2, 10), -1e4)
    sure[[0, 1], [2, 7]] = 1e4
    assert F.cross_entropy(sure, np.array([2, 7])) == 0.0                  # right and certain
    assert F.cross_entropy(sure, np.array([3, 7])) == pytest.approx(1e4)   # (2e4 + 0) / 2: finite


def test_cross_entropy_grad_matches_autograd():
    rng = np.random.default_rng(4)
    logits = rng.normal(scale=3, size=(16, 10))
    labels = rng.integers(0, 10, size=16)
    ours = F.cross_entropy_grad(F.softmax(logits), labels)
    lt = torch.from_numpy(logits).requires_grad_(True)
    torch.nn.CrossEntropyLoss()(lt, torch.from_numpy(labels)).backward()
    np.testing.assert_allclose(ours, lt.grad.numpy(), rtol=1e-12, atol=1e-16)
    # each row of (softmax - one_hot) sums to 0; the probabilities passed in are not modified
    np.testing.assert_allclose(ours.sum(axis=1), 0, atol=1e-16)
    probs = F.softmax(logits)
    before = probs.copy()
    F.cross_entropy_grad(probs, labels)
    np.testing.assert_array_equal(probs, before)

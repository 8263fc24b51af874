"""NumpyMLP: shapes, probabilities, layer outputs, no hidden layer, inverted dropout."""

import numpy as np
import pytest

from nn_core.dropout import dropout_masks
from nn_core.init import init_params
from nn_core.numpy_mlp import NumpyMLP


def make(hidden=(16, 8), dtype="float32", activation="relu", seed=0):
    return NumpyMLP(init_params((784, *hidden, 10), "he", seed, dtype), activation)


def pixels(n=12, dtype=np.float32, seed=0):
    return np.random.default_rng(seed).random((n, 784)).astype(dtype)


@pytest.mark.parametrize("hidden", [(), (5,), (16, 8), (7, 6, 5, 4)])
def test_forward_shapes(hidden):
    model = make(hidden)
    logits, cache = model.forward(pixels(12))
    assert logits.shape == (12, 10) and logits.dtype == np.float32
    assert len(cache) == len(hidden) + 1
    for (A_prev, Z, A, mask), width, fan_in in zip(cache, hidden, (784, *hidden)):
        assert A_prev.shape == (12, fan_in) and Z.shape == A.shape == (12, width) and mask is None
    assert cache[-1][0].shape == (12, (784, *hidden)[-1])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_dtype_follows_the_parameters(dtype):
    model = make(dtype=dtype)
    assert model.dtype == dtype
    assert model.forward(pixels(3, np.float64))[0].dtype == dtype
    assert model.predict_proba(pixels(3, np.float32)).dtype == dtype


def test_predict_proba_rows_sum_to_one_and_chunks_agree():
    model = make()
    X = pixels(50)
    p = model.predict_proba(X)
    assert p.shape == (50, 10) and (p >= 0).all()
    np.testing.assert_allclose(p.sum(axis=1), 1, rtol=1e-6)
    np.testing.assert_allclose(model.predict_proba(X, batch=7), p, rtol=1e-6)   # chunking is invisible
    assert model.predict_proba(X[:0]).shape == (0, 10)


def test_layer_outputs():
    model = make((16, 8), activation="sigmoid")
    outs = model.layer_outputs(pixels(5))
    assert [o.shape for o in outs] == [(5, 16), (5, 8), (5, 10)]
    assert all(((o > 0) & (o < 1)).all() for o in outs[:2])          # sigmoid activations
    np.testing.assert_allclose(outs[-1], model.predict_proba(pixels(5)), rtol=1e-6)


def test_no_hidden_layer_is_softmax_regression():
    model = make(())
    X, y = pixels(8), np.arange(8) % 10
    logits, _ = model.forward(X)
    W, b = model.params()[0]
    np.testing.assert_allclose(logits, X @ W + b, rtol=1e-6)
    assert model.layer_outputs(X)[0].shape == (8, 10)
    loss, _, grads = model.loss_and_grads(X, y)
    assert [g.shape for g in grads] == [(784, 10), (10,)] and np.isfinite(loss)


def test_params_are_copies_both_ways():
    params = init_params((784, 4, 10), "he", 0, "float64")
    model = NumpyMLP(params, "relu")
    model.weights[0][0, 0] = 123.0
    assert params[0][0][0, 0] != 123.0                                # the constructor copied
    out = model.params()
    out[0][0][0, 1] = 456.0
    assert model.weights[0][0, 1] != 456.0                            # params() copies
    assert model.parameters[0] is model.weights[0] and model.parameters[1] is model.biases[0]


def masks(model, n, p, step=1, seed=0):
    """The shared dropout masks of one training step for model's hidden layers."""
    widths = [W.shape[1] for W in model.weights[:-1]]
    return dropout_masks(p, seed, step, n, widths, model.dtype)


def test_without_masks_there_is_no_dropout():
    model = make()
    X = pixels(4)
    a, cache = model.forward(X)
    assert all(mask is None for *_, mask in cache)
    np.testing.assert_array_equal(a, model.forward(X)[0])               # deterministic
    np.testing.assert_array_equal(model.predict_proba(X), model.predict_proba(X))
    assert dropout_masks(0.0, 0, 1, 4, [16, 8], "float32") is None
    assert dropout_masks(0.5, 0, 1, 4, [], "float32") is None            # no hidden layer


def test_inverted_dropout_scales_kept_units():
    p = 0.3
    model = make((200,))
    X = pixels(16)
    logits, cache = model.forward(X, masks(model, 16, p))
    _, Z, A, mask = cache[0]
    kept = mask > 0
    assert mask.dtype == np.float32 and mask.shape == (16, 200)
    assert set(np.unique(mask)) <= {0.0, np.float32(1 / (1 - p))}       # 0 or 1/(1-p)
    assert kept.mean() == pytest.approx(1 - p, abs=0.02)
    assert mask.mean() == pytest.approx(1.0, abs=0.03)                  # expectation preserved
    # the next layer saw the masked, scaled activations
    np.testing.assert_allclose(cache[1][0], A * mask, rtol=1e-6)
    # and averaged over many steps' draws the hidden output matches evaluation's (inverted dropout)
    eval_A = model.forward(X)[1][0][2]
    mean_A = np.mean([model.forward(X, masks(model, 16, p, step))[1][1][0] for step in range(200)], axis=0)
    assert mean_A.mean() == pytest.approx(eval_A.mean(), rel=0.01)
    assert np.abs(mean_A - eval_A).mean() < 0.1 * eval_A.mean()   # per entry: 200 draws, ~4 % noise


def test_dropout_masks_differ_between_steps_and_seeds_but_repeat_exactly():
    model = make((32, 16))
    m1, m2 = masks(model, 4, 0.5, step=1), masks(model, 4, 0.5, step=2)
    assert [m.shape for m in m1] == [(4, 32), (4, 16)]
    assert not np.array_equal(m1[0], m2[0])
    assert not np.array_equal(m1[0], masks(model, 4, 0.5, step=1, seed=1)[0])
    for a, b in zip(m1, masks(model, 4, 0.5, step=1)):
        np.testing.assert_array_equal(a, b)


def test_backward_through_dropout_uses_the_same_mask():
    """Dropped units get no gradient: column j of dW1 is 0 when unit j is dropped for every row."""
    model = make((30,), dtype="float64")
    X, y = pixels(1, np.float64), np.array([3])
    logits, cache = model.forward(X, masks(model, 1, 0.5))
    grads = model.backward(logits, cache, y)
    dropped = cache[0].mask[0] == 0
    assert dropped.any() and (~dropped).any()
    assert not grads[0][:, dropped].any() and not grads[1][dropped].any()
    assert not grads[2][dropped, :].any()

"""nn_core.init: shapes, dtype, reproducibility and the spread of each scheme."""

import numpy as np
import pytest

from nn_core.init import INITIALISERS, init_params

SIZES = (784, 128, 64, 10)


@pytest.mark.parametrize("scheme", sorted(INITIALISERS))
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_shapes_and_dtype(scheme, dtype):
    params = init_params(SIZES, scheme, seed=0, dtype=dtype)
    assert [(W.shape, b.shape) for W, b in params] == [((784, 128), (128,)), ((128, 64), (64,)),
                                                      ((64, 10), (10,))]
    assert all(W.dtype == dtype and b.dtype == dtype for W, b in params)
    assert all(np.isfinite(W).all() and np.isfinite(b).all() for W, b in params)


def test_no_hidden_layer():
    (W, b), = init_params((784, 10), "he", seed=0)
    assert W.shape == (784, 10) and b.shape == (10,)


@pytest.mark.parametrize("scheme", sorted(set(INITIALISERS) - {"zeros"}))   # zeros draws nothing
def test_same_seed_same_weights_other_seed_other_weights(scheme):
    a = init_params(SIZES, scheme, seed=7)
    b = init_params(SIZES, scheme, seed=7)
    c = init_params(SIZES, scheme, seed=8)
    for (Wa, ba), (Wb, bb), (Wc, _) in zip(a, b, c):
        np.testing.assert_array_equal(Wa, Wb)
        np.testing.assert_array_equal(ba, bb)
        assert not np.array_equal(Wa, Wc)


def test_float32_is_the_float64_draw_rounded():
    """One draw, cast: switching the dtype does not change which network you start from."""
    for (W32, b32), (W64, b64) in zip(init_params(SIZES, "he", 3, "float32"), init_params(SIZES, "he", 3, "float64")):
        np.testing.assert_array_equal(W32, W64.astype(np.float32))
        np.testing.assert_array_equal(b32, b64.astype(np.float32))


def test_he_std_is_sqrt_2_over_fan_in():
    for W, b in init_params((784, 256, 256, 10), "he", seed=0, dtype="float64"):
        fan_in = W.shape[0]
        assert W.mean() == pytest.approx(0, abs=4 * np.sqrt(2 / fan_in) / np.sqrt(W.size))
        assert W.std() == pytest.approx(np.sqrt(2 / fan_in), rel=0.05)
        assert not b.any()


def test_xavier_is_uniform_within_its_bound():
    for W, b in init_params((784, 256, 256, 10), "xavier", seed=0, dtype="float64"):
        bound = np.sqrt(6 / (W.shape[0] + W.shape[1]))
        assert np.abs(W).max() <= bound
        assert np.abs(W).max() > 0.95 * bound                        # fills the interval
        assert W.std() == pytest.approx(bound / np.sqrt(3), rel=0.05)  # std of U(-a, a)
        assert not b.any()


def test_uniform_is_in_minus_half_to_half():
    for W, b in init_params((784, 256, 10), "uniform", seed=0, dtype="float64"):
        for a in (W, b):
            assert a.min() >= -0.5 and a.max() < 0.5
        assert W.min() < -0.49 and W.max() > 0.49
        assert W.std() == pytest.approx(np.sqrt(1 / 12), rel=0.05)
        assert b.any()   # unlike He and Xavier, biases are drawn too


def test_zeros_is_all_zeros():
    for W, b in init_params(SIZES, "zeros", seed=5):
        assert not W.any() and not b.any()


@pytest.mark.parametrize("impl", ["numpy", "torch"])
def test_zeros_keeps_every_hidden_unit_identical_in_both_twins(impl):
    """The lesson of all-zero weights: no unit can become different from its neighbours. With
    relu every hidden output is 0, so nothing but the output layer's biases moves."""
    from nn_core import data
    from nn_core.config import TrainConfig
    from nn_core.trainer import train
    from nn_core.twins import initial_params, make_twin
    config = TrainConfig(hidden=(16, 8), init="zeros", optimizer="sgd", epochs=1, batch_size=500)
    split = data.make_split(data.load_shipped_sample(), config.val_fraction, config.seed)
    twin = make_twin(impl, config, initial_params(config))
    records = list(train(twin, split, config))
    assert records[-1].event == "done"
    params = twin.params()
    for W, b in params[:-1]:
        assert not W.any() and not b.any()
    W_out, b_out = params[-1]
    assert not W_out.any() and b_out.any()


def test_scheme_names_match_the_config():
    from nn_core.config import INIT_NAMES
    assert set(INITIALISERS) == set(INIT_NAMES)

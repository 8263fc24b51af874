"""Network health (nn_core.diagnostics): dead and saturated units, histograms, and both twins agreeing."""

import json
import math
from itertools import islice

import numpy as np
import pytest

from nn_core import diagnostics as D
from nn_core.config import TrainConfig
from nn_core.data import load_shipped_sample, make_split
from nn_core.store import records_blob, records_from_blob
from nn_core.trainer import train
from nn_core.twins import IMPLS, initial_params, make_twin

torch = pytest.importorskip("torch")

# Settings where each measure has something to find (tested below), every step diagnosed.
DEAD_RELU = TrainConfig(optimizer="sgd", lr=1.5, epochs=1, diag_every=1)
SATURATED_SIGMOID = TrainConfig(hidden=(64,) * 5, activation="sigmoid", optimizer="momentum", lr=1.0,
                                epochs=1, diag_every=1)
STEPS = 40


@pytest.fixture(scope="module")
def splits():
    """The shipped sample's train / validation split, by dtype name."""
    sample = load_shipped_sample()
    return {dtype: make_split(sample, dtype=np.dtype(dtype)) for dtype in ("float32", "float64")}


@pytest.fixture(scope="module")
def split(splits):
    return splits["float32"]


def diagnosed(impl, config, split, steps=STEPS):
    """The first `steps` records of one twin trained per config (every one diagnosed)."""
    config = config.validated()
    twin = make_twin(impl, config, initial_params(config), device="cpu")
    return list(islice(train(twin, split, config), steps))


# ---- dead and saturated units on made-up activations --------------------------------------------
def test_dead_fraction_counts_units_inactive_for_every_example():
    a = np.array([[0.0, 1.0, 0.0, 0.0],
                  [0.0, 0.0, 2.0, 0.0],
                  [0.0, 0.0, 0.0, 0.0]])          # (B=3, units=4): units 0 and 3 never fire
    assert D.dead_fraction(a, "relu") == 0.5
    leaky = np.array([[-0.01, 0.5, -0.02],
                      [-0.03, -0.01, -0.01]])     # units 0 and 2 are negative throughout
    assert D.dead_fraction(leaky, "leaky_relu") == pytest.approx(2 / 3)
    assert D.dead_fraction(a, "sigmoid") is None and D.dead_fraction(a, "tanh") is None


def test_saturated_fraction_needs_a_flat_slope_for_almost_every_example():
    batch = 100
    flat = 1 - 1e-4                                     # sigmoid slope a(1-a) ~ 1e-4 < 1 % of 0.25
    steep = 0.5                                         # the steepest point
    a = np.full((batch, 3), steep)
    a[:, 0] = flat                                      # unit 0: flat on every example
    a[:math.ceil(D.ALMOST_EVERY * batch), 1] = flat     # unit 1: flat on just enough of them
    a[:math.ceil(D.ALMOST_EVERY * batch) - 1, 2] = flat  # unit 2: one example short
    assert D.saturated_fraction(a, "sigmoid") == pytest.approx(2 / 3)
    edge = math.sqrt(1 - D.SATURATED_SLOPE)             # tanh: slope 1 - a^2 right at the threshold
    t = np.array([[edge * 1.0001, edge * 0.9999, -0.9999]])
    assert D.saturated_fraction(t, "tanh") == pytest.approx(2 / 3)
    assert D.saturated_fraction(a, "relu") is None and D.saturated_fraction(a, "leaky_relu") is None


# ---- histograms ------------------------------------------------------------------------------
def test_histogram_bins_from_lo_to_hi():
    middles = np.arange(D.HISTOGRAM_BINS) + 0.5                  # one value in the middle of each bin
    values = np.concatenate([[0.0], middles, [D.HISTOGRAM_BINS]]).reshape(4, 8)   # lo 0, hi 30
    h = D.histogram(values)
    assert (h["lo"], h["hi"]) == (0.0, D.HISTOGRAM_BINS)
    assert h["counts"] == [2] + [1] * (D.HISTOGRAM_BINS - 2) + [2]   # hi itself falls in the last bin
    assert D.histogram(np.full((3, 4), 0.25))["counts"][0] == 12    # all equal: one bin, no division by 0


def test_histogram_samples_big_arrays_the_same_way_in_either_layout():
    rng = np.random.default_rng(1)
    W = rng.normal(size=(784, 128)).astype(np.float32)          # the first layer's shape
    h = D.histogram(W)
    assert sum(h["counts"]) == D.HISTOGRAM_SAMPLE
    torch_view = np.ascontiguousarray(W.T).T                    # how the torch twin hands W over
    assert not torch_view.flags.c_contiguous
    assert D.histogram(torch_view) == h


def test_histogram_of_a_range_as_narrow_as_float32_allows():
    # A layer whose units have nearly all died: zeros and one output of float32's tiniest size.
    values = np.zeros((16, 64), dtype=np.float32)
    values[3, 5] = np.float32(1e-44)
    h = D.histogram(values)
    assert (h["lo"], h["hi"]) == (0.0, float(np.float32(1e-44)))
    assert h["counts"][0] == values.size - 1 and h["counts"][-1] == 1


def test_histogram_leaves_out_non_finite_values():
    values = np.array([[1.0, np.nan, 3.0], [np.inf, 2.0, -np.inf]])
    h = D.histogram(values)
    assert (h["lo"], h["hi"], sum(h["counts"])) == (1.0, 3.0, 3)
    json.dumps(D.histogram(np.full((2, 2), np.nan)), allow_nan=False)   # strict JSON even then


def test_percentiles_read_from_histograms_match_the_data():
    rng = np.random.default_rng(2)
    values = rng.normal(size=(32, 32))                          # 1,024: every value counted
    h = D.histogram(values)
    read = D.histogram_percentiles([h, h])
    exact = np.percentile(values, D.BAND_PERCENTILES)
    bin_width = (h["hi"] - h["lo"]) / D.HISTOGRAM_BINS
    assert read.shape == (2, len(D.BAND_PERCENTILES))
    assert np.abs(read[0] - exact).max() < bin_width
    assert (read[0, 0], read[0, -1]) == (h["lo"], h["hi"])
    assert np.all(np.diff(read[0]) >= 0)


# ---- the twins --------------------------------------------------------------------------------
# tanh at lr 0.5 is chaotic (its loss explodes): in float32 the twins' last digits drift apart
# within ~20 steps, enough for a unit right at the threshold to count differently; float64 keeps
# the twins together over the whole window.
@pytest.mark.parametrize("config", [DEAD_RELU, SATURATED_SIGMOID,
                                    DEAD_RELU.replace(activation="leaky_relu", hidden=(64, 32)),
                                    SATURATED_SIGMOID.replace(activation="tanh", lr=0.5, dtype="float64")],
                         ids=lambda c: f"{c.activation}-{c.dtype}")
def test_twins_give_the_same_dead_and_saturated_shares_at_every_step(config, splits):
    records = {impl: diagnosed(impl, config, splits[config.dtype]) for impl in IMPLS}
    found = [r.dead_fraction or r.saturated_fraction for r in records["numpy"]]
    assert np.max(found) > 0.2                         # there is something to agree on
    for numpy_record, torch_record in zip(records["numpy"], records["torch"]):
        assert numpy_record.step == torch_record.step
        for field in ("dead_fraction", "saturated_fraction"):
            a, b = getattr(numpy_record, field), getattr(torch_record, field)
            assert (a is None) == (b is None), field
            if a is not None:
                assert len(a) == len(config.hidden)
                np.testing.assert_allclose(a, b, rtol=0, atol=1e-6, err_msg=f"{field} at step {numpy_record.step}")
    first = {impl: records[impl][0] for impl in IMPLS}      # histograms: at step 1, before float32 drift
    for field in ("weight_hist", "grad_hist", "activation_hist"):
        for h_numpy, h_torch in zip(getattr(first["numpy"], field), getattr(first["torch"], field)):
            assert sum(h_numpy["counts"]) == sum(h_torch["counts"])     # the same sampled elements
            assert h_numpy["lo"] == pytest.approx(h_torch["lo"], rel=1e-4, abs=1e-7)
            assert h_numpy["hi"] == pytest.approx(h_torch["hi"], rel=1e-4, abs=1e-7)


def test_relu_at_sgd_lr_1_5_shows_dead_units(split):
    shares = np.array([r.dead_fraction for r in diagnosed("numpy", DEAD_RELU, split)])   # (steps, layers)
    assert shares[0].max() < 0.1                       # healthy at the start
    assert shares[-1].max() > 0.5                      # most units of a layer dead after 40 steps
    calm = np.array([r.dead_fraction for r in diagnosed("numpy", DEAD_RELU.replace(lr=0.1), split)])
    assert calm.max() < 0.2                            # the same network at lr 0.1 keeps most units


def test_five_layer_sigmoid_shows_saturation(split):
    records = diagnosed("numpy", SATURATED_SIGMOID, split)
    assert all(r.dead_fraction is None for r in records)
    shares = np.array([r.saturated_fraction for r in records])                         # (steps, 5)
    assert shares[0].max() == 0.0
    assert shares[-1].max() > 0.5                      # the top layers have gone flat
    calm = np.array([r.saturated_fraction for r in diagnosed("numpy", SATURATED_SIGMOID.replace(
        optimizer="adam", lr=1e-3), split)])
    assert calm.max() < 0.1


def test_torch_reads_activations_only_at_diagnostic_steps(split):
    config = TrainConfig(hidden=(16,), epochs=1, diag_every=3).validated()
    twin = make_twin("torch", config, initial_params(config), device="cpu")
    records = list(islice(train(twin, split, config), 14))
    assert [r.step for r in records if r.dead_fraction is not None] == [1, 4, 7, 10, 13]
    every = D.HISTOGRAM_EVERY * config.diag_every                  # histograms: fewer, same rule
    assert [r.step for r in records if r.activation_hist is not None] == list(range(1, 15, every))
    assert not twin.model.act._forward_hooks           # the hook is gone after each diagnostic step


def test_histograms_survive_the_run_store(split):
    records = diagnosed("numpy", DEAD_RELU.replace(diag_every=5), split, steps=20)
    back = records_from_blob(records_blob(records))
    assert [r.to_dict() for r in back] == [r.to_dict() for r in records]
    one = [r for r in records if r.weight_hist is not None][0]
    # What a diagnostic record of the default network costs as JSON (before the store compresses it).
    assert len(json.dumps(one.to_dict())) < 3000

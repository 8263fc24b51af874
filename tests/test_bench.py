"""The roofline: FLOPs from the layer sizes (by hand, and as the NumPy twin really multiplies), the
measured matrix-multiply peak, the report's GFLOP/s and share-of-peak columns, what limits a twin."""

import time

import numpy as np
import pytest

from nn_core import bench
from nn_core.config import TrainConfig
from nn_core.data import Split
from nn_core.init import init_params
from nn_core.numpy_mlp import NumpyMLP
from nn_core.numpy_twin import NumpyTwin
from nn_core.twins import initial_params, make_twin


def test_flops_of_a_small_network_by_hand():
    # 3 -> 4 -> 2, one sample. Forward: x @ W1 is 3*4 multiply-adds, h @ W2 is 4*2: (12 + 8) * 2 = 40.
    # Backward: dW2 = h.T @ dZ2 (8 * 2 = 16), dh = dZ2 @ W2.T (16), dW1 = x.T @ dZ1 (12 * 2 = 24); no dx.
    assert bench.training_flops_per_sample((3, 4, 2)) == 40 + 16 + 16 + 24 == 96
    assert bench.training_flops_per_sample((784, 10)) == 2 * 7840 + 2 * 7840       # no hidden layer
    assert bench.training_flops_per_sample((784, 128, 64, 10)) == 454_400          # the issue's ~454k


class CountingArray(np.ndarray):
    """An array that adds up the FLOPs of every matrix product it takes part in (2 per multiply-add)."""
    flops = 0

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        def plain_array(a):
            return a.view(np.ndarray) if isinstance(a, CountingArray) else a
        plain = [plain_array(a) for a in inputs]
        if kwargs.get("out") is not None:
            kwargs["out"] = tuple(plain_array(o) for o in kwargs["out"])
        if ufunc is np.matmul and method == "__call__":
            (m, k), (_, n) = plain[0].shape, plain[1].shape
            CountingArray.flops += 2 * m * k * n
        result = getattr(ufunc, method)(*plain, **kwargs)
        return result.view(CountingArray) if isinstance(result, np.ndarray) else result


@pytest.mark.parametrize("hidden", [(), (5,), (16, 8), (7, 6, 5)])
def test_flop_count_is_what_the_numpy_twin_multiplies(hidden):
    """Every matrix product of a real forward + backward pass, counted as it happens."""
    sizes = (784, *hidden, 10)
    model = NumpyMLP(init_params(sizes, "he", 0, "float64"), "relu")
    batch = 6
    X = np.random.default_rng(0).random((batch, 784)).view(CountingArray)
    CountingArray.flops = 0
    model.loss_and_grads(X, np.arange(batch) % 10)
    assert CountingArray.flops == batch * bench.training_flops_per_sample(sizes)


def test_limit_sentence_reads_the_share_of_the_peak():
    sentence = bench.limit_sentence(64, {"numpy": 0.62, "torch": 0.21})
    assert sentence == ("Batch 64: NumPy reaches 62% of the measured peak, so the matrix multiplies limit it; "
                        "PyTorch reaches 21% of the measured peak, so per-call overhead limits it.")
    assert bench.limit_sentence(16, {"numpy": 0.3}).endswith("per-call overhead limits it.")
    assert bench.limit_sentence(256, {"numpy": 0.4}).endswith("the matrix multiplies limit it.")


def test_matmul_peak_is_a_measurement():
    peak = bench.matmul_peak(size=128, repeats=2)
    assert peak["gflops"] > 0.1 and peak["size"] == 128 and peak["dtype"] == "float32"
    assert peak["threads"] is None or peak["threads"] >= 1
    assert "measured peak" in bench.peak_label(peak)


def test_report_has_gflops_and_share_of_the_peak():
    rows = bench.measure_throughput(batch_sizes=(32,), hidden=(16,), rounds=1, steps=3, impls=("numpy",))
    (row,) = rows
    flops = bench.training_flops_per_sample((784, 16, 10))
    assert row["gflops"] == pytest.approx(row["samples_per_s_median"] * flops / 1e9)
    peak = {"gflops": 2 * row["gflops"], "size": 1024, "repeats": 5, "dtype": "float32", "threads": 1}
    assert bench.peak_share(row, peak) == pytest.approx(0.5)
    report = bench.format_report(rows, peak)
    header = report.splitlines()[0]
    assert "GFLOP/s" in header and "% of peak" in header
    assert "50%" in report.splitlines()[1]
    assert "Batch 32: NumPy reaches 50% of the measured peak, so the matrix multiplies limit it." in report


def test_training_loop_timing_leaves_validation_out(monkeypatch):
    """bench_peers compares trainer.train with loops that never validate: its validation is left out."""
    config = TrainConfig(hidden=(4,), batch_size=100, epochs=1, eval_every=1).validated()
    rng = np.random.default_rng(0)
    split = Split(rng.random((400, 784), dtype=np.float32), rng.integers(0, 10, 400),
                  rng.random((50, 784), dtype=np.float32), rng.integers(0, 10, 50))
    evaluate = NumpyTwin.evaluate

    def slow_evaluate(self, x, y):
        time.sleep(0.05)
        return evaluate(self, x, y)
    monkeypatch.setattr(NumpyTwin, "evaluate", slow_evaluate)
    twin = make_twin("numpy", config, initial_params(config))
    t0 = time.perf_counter()
    timing = bench.time_training_loop(twin, split, config)
    wall = time.perf_counter() - t0
    assert (timing["steps"], timing["samples"], timing["event"]) == (4, 400, "done")
    assert 0 < timing["seconds"] < wall - 4 * 0.05                  # 4 validations, one per step
    assert "evaluate" not in vars(twin)                               # the twin is as it was

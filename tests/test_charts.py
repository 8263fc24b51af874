"""app_support.series and .figures: long curves are cut to a fixed number of points that keep
spikes and divergence; the live redraw interval grows with the server's load."""

import numpy as np
import pytest

from app_support import figures, series, server


def twin_series(n: int, impl: str = "numpy") -> series.TwinSeries:
    s = series.TwinSeries(impl)
    rng = np.random.default_rng(0)
    s.step = list(range(1, n + 1))
    s.loss = list(2.3 * np.exp(-np.arange(n) / 500) + 0.05 * rng.random(n))
    s.train_acc = list(np.linspace(0.1, 0.98, n))
    s.samples_per_s = list(50_000 + 1000 * rng.random(n))
    s.val_step, s.val_loss, s.val_acc = s.step[::63], s.loss[::63], s.train_acc[::63]
    s.grad_step = s.step[::10]
    s.grad_norm_scaled = [[0.1, 0.2, 0.3]] * len(s.grad_step)
    return s


def test_short_curves_are_kept_whole():
    assert series.extremes(np.arange(1000.0)) == slice(None)


@pytest.mark.parametrize("n", [1001, 6300, 60_000])
def test_long_curves_keep_their_spikes_their_ends_and_at_most_max_points(n):
    y = np.ones(n)
    spike, dip = n // 3, n // 3 + 1          # one step up, the next one down: both survive
    y[spike], y[dip] = 100.0, -100.0
    keep = series.extremes(y)
    assert len(keep) <= series.MAX_POINTS
    assert {0, spike, dip, n - 1} <= set(keep.tolist())
    assert np.all(np.diff(keep) > 0)                      # in order, no repeats


def test_a_diverged_step_stays_where_it_happened():
    y = np.linspace(2.0, 0.1, 20_000)
    y[15_000:] = np.nan                                   # the loss became NaN here and after
    y[14_999] = np.inf
    keep = series.extremes(y)
    first_nan = min(k for k in keep.tolist() if np.isnan(y[k]))
    assert 14_999 in keep and first_nan - 15_000 <= len(y) / 499     # within one bucket of it


def test_a_redraw_costs_the_same_at_any_length_of_run():
    sizes = []
    for n in (2_000, 6_300, 60_000):
        figure = figures.loss_figure({"numpy": twin_series(n), "torch": twin_series(n, "torch")})
        lines = [t for t in figure["data"] if t["mode"] == "lines"]
        assert all(len(t["x"]) <= series.MAX_POINTS for t in lines)
        sizes.append(sum(t["x"].nbytes + t["y"].nbytes for t in figure["data"]))
    assert max(sizes[:2]) <= 1.1 * min(sizes[:2]), sizes   # validation points grow; the lines do not
    grad = figures.grad_norm_figure({"numpy": twin_series(60_000)})
    assert len(grad["data"]) == 3 and all(len(t["x"]) <= series.MAX_POINTS for t in grad["data"])


def test_steps_and_values_go_out_as_4_byte_numbers():
    x, y = figures._xy(list(range(5000)), list(np.linspace(1, 0, 5000)))
    assert x.dtype == np.int32 and y.dtype == np.float32 and x[-1] == 4999


def test_redraw_interval_grows_with_the_runs_on_the_server():
    assert server.redraw_every(0.5, 0) == server.redraw_every(0.5, 5) == 0.5
    assert server.redraw_every(0.5, 6) == 1.0
    assert server.redraw_every(0.5, 30) == server.redraw_every(0.5, 300) == 2.0


def history_of_two_runs():
    """series.history_frame's long table for run 1 (both twins) and run 2 (NumPy only)."""
    import pandas as pd

    parts = []
    for run, twins in (("run 1", ("NumPy", "PyTorch")), ("run 2", ("NumPy",))):
        for twin in twins:
            for curve, values in (("batch loss", [2.3, 1.1, 0.6]), ("validation accuracy", [0.5, 0.8, 0.9])):
                parts.append(pd.DataFrame({"epoch": [0.5, 1.0, 2.0], "value": values, "curve": curve,
                                           "run": run, "twin": twin}))
    return pd.concat(parts, ignore_index=True)


def test_the_history_has_a_colour_per_run_and_a_dash_per_twin():
    fig = figures.history_figure(history_of_two_runs(), "validation accuracy")
    traces = {t["name"]: t for t in fig["data"]}
    assert list(traces) == ["run 1, NumPy", "run 1, PyTorch", "run 2, NumPy"]
    colours = {name: t["line"]["color"] for name, t in traces.items()}
    assert colours["run 1, NumPy"] == colours["run 1, PyTorch"] != colours["run 2, NumPy"]
    assert [t["line"]["dash"] for t in traces.values()] == ["solid", "dash", "solid"]
    assert list(traces["run 2, NumPy"]["y"]) == [0.5, 0.8, 0.9]
    assert fig["layout"]["yaxis"]["tickformat"] == ".0%"
    assert fig["layout"]["xaxis"]["title"]["text"] == "epoch"


@pytest.mark.parametrize("make", [
    lambda: figures.loss_figure({"numpy": twin_series(6300), "torch": twin_series(6300, "torch")}),
    lambda: figures.grad_norm_figure({"numpy": twin_series(3000)}),
    lambda: figures.gap_figure(series.twin_gap({"numpy": twin_series(2000), "torch": twin_series(2000, "torch")})),
    lambda: figures.weights_figure(np.random.default_rng(1).normal(size=(784, 20))),
    lambda: figures.training_speed_figure({}),
    lambda: figures.history_figure(history_of_two_runs(), "batch loss"),
    lambda: figures.history_figure(history_of_two_runs(), "validation accuracy"),
])
def test_a_ready_figure_sends_what_plotly_would_have_checked_and_sent(make):
    # The page hands st.plotly_chart figures.ready(figure): the same JSON as the figure validated.
    import json

    import plotly.io
    import plotly.tools

    def sent(figure):
        checked = plotly.tools.return_figure_from_figure_or_data(figure, validate_figure=True)
        return json.loads(plotly.io.to_json(checked, validate=False))

    assert sent(figures.ready(make())) == sent(make())

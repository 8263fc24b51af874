"""AppTest of the Network health page, through the real router."""

import base64
import json
from dataclasses import dataclass, replace

import numpy as np
import plotly.graph_objects as go
import pytest

from app_support import health_figures as hf
from nn_core import data as nn_data
from nn_core.config import TrainConfig
from nn_core.run import Run, run_to_end
from test_app_pages import open_page

PAGE = "app_pages/health.py"


def finished_run(**settings) -> Run:
    config = TrainConfig(hidden=(16,), epochs=1, batch_size=500, diag_every=1).replace(**settings)
    split = nn_data.make_split(nn_data.load_shipped_sample(), config.val_fraction, config.seed)
    run = run_to_end(Run(config, split, name="run 1 · numpy, torch · test"))
    assert set(run.twins) == {"numpy", "torch"} and not run.errors, run.messages()
    return run


@pytest.fixture(scope="module")
def relu_run():
    return finished_run()


def specs(at) -> dict:
    """Title -> figure spec of every chart on the page, each checked by plotly's validation."""
    shown = {}
    for chart in at.get("plotly_chart"):
        spec = json.loads(chart.proto.spec)
        go.Figure(spec)                                 # raises on anything plotly does not know
        shown[spec["layout"]["title"]["text"]] = spec
    return shown


def values(array) -> list:
    """A plotly data array as a list: a JSON list, or {dtype, bdata} for a binary-encoded one."""
    if isinstance(array, dict):
        return np.frombuffer(base64.b64decode(array["bdata"]), dtype=array["dtype"]).tolist()
    return array


def heading(at) -> str:
    """The line above the charts: run, twin, step, state."""
    return next(m.value for m in at.markdown if m.value.startswith("#### "))


def captions(at) -> str:
    return "\n".join(c.value for c in at.caption)


def test_without_a_run_the_page_says_so_and_links_to_train():
    at = open_page(PAGE)
    assert [i.value for i in at.info] == [
        "No run yet: train a network on Train & compare, then come back here to watch its layers."]
    assert [link.proto.page for link in at.get("page_link")] == ["train"]
    assert not at.get("plotly_chart")


def test_a_finished_relu_run_every_chart_and_its_sentence(relu_run):
    at = open_page(PAGE, **{"app.runs": [relu_run]})
    assert not at.error
    charts = specs(at)
    assert list(charts) == ["Weights W per layer", "Gradients dW per layer",
                            "Activations f(z) per hidden layer (relu)", "Dead units per hidden layer",
                            "Update-to-weight ratio per layer"]
    for chart in ("weights", "gradients", "activations", "units", "update_ratio"):
        assert hf.notice(chart, "relu") in captions(at)
    steps = len(relu_run.records("numpy"))
    assert f"step {steps:,}, epoch 1 of 1 · done" in heading(at)
    # one median line per layer, on its own subplot, over the histogram steps (1, 5, ...)
    medians = [t for t in charts["Weights W per layer"]["data"] if t.get("name", "").endswith("median")]
    assert [t["name"] for t in medians] == ["layer 1 (784→16) median", "layer 2 (16→10) median"]
    assert [t["xaxis"] for t in medians] == ["x", "x2"]
    assert values(medians[0]["x"]) == [r.step for r in relu_run.records("numpy") if r.weight_hist]
    dead = charts["Dead units per hidden layer"]["data"][0]
    assert values(dead["y"]) == pytest.approx([r.dead_fraction[0] for r in relu_run.records("numpy")])
    ratio = charts["Update-to-weight ratio per layer"]
    assert ratio["layout"]["yaxis"]["type"] == "log"
    assert [t["y"][0] for t in ratio["data"][:3]] == [1e-4, 1e-2, 1e-3]     # the healthy band and 1e-3

    at.radio(key=f"health.twin.{relu_run.id}").set_value("torch").run()
    assert not at.exception and "PyTorch twin" in heading(at) and len(specs(at)) == 5


def test_a_sigmoid_run_shows_saturation_not_dead_units():
    run = finished_run(activation="sigmoid", init="xavier")
    at = open_page(PAGE, **{"app.runs": [run]})
    charts = specs(at)
    assert "Saturated units per hidden layer" in charts and "Dead units per hidden layer" not in charts
    assert hf.notice("units", "sigmoid") in captions(at)
    assert "flat end of its sigmoid for at least 95 % of the batch (its slope below 1 % of the steepest)" \
        in captions(at)


def test_without_hidden_layers_only_weights_gradients_and_update_ratio():
    run = finished_run(hidden=())
    at = open_page(PAGE, **{"app.runs": [run]})
    assert not at.exception
    assert list(specs(at)) == ["Weights W per layer", "Gradients dW per layer", "Update-to-weight ratio per layer"]


@dataclass
class OldRun:
    """A finished run as the store returns one recorded before the health checks existed."""
    run: Run
    finished = True

    def __getattr__(self, name):
        return getattr(self.run, name)

    def records(self, impl, start=0):
        return [replace(r, dead_fraction=None, saturated_fraction=None, weight_hist=None, grad_hist=None,
                        activation_hist=None) for r in self.run.records(impl, start)]


def test_a_run_from_before_the_health_checks_says_so(relu_run):
    at = open_page(PAGE, **{"app.runs": [OldRun(relu_run)]})
    assert not at.exception and not at.get("plotly_chart")
    assert [i.value for i in at.info] == [
        "This run has no health checks (it was trained before they existed): train again."]


def test_while_training_the_page_draws_what_has_arrived():
    config = TrainConfig(hidden=(16,), epochs=3, batch_size=100)
    split = nn_data.make_split(nn_data.load_shipped_sample(), config.val_fraction, config.seed)
    run = Run(config, split, impls=("numpy",), name="run 1 · numpy · test")
    run.pause()
    run.start()                     # paused: it takes the steps it is asked for, one at a time
    try:
        at = open_page(PAGE, **{"app.runs": [run]})
        assert [i.value for i in at.info] == ["The first health check comes with the twin's first step."]
        run.step()
        while run.latest("numpy") is None:
            run.join(timeout=0.05)
        at.run()
        assert not at.exception
        assert "· paused" in heading(at)
        assert "Update-to-weight ratio per layer" in specs(at)
    finally:
        run.stop()
        run.join(timeout=10)


def test_a_long_runs_figures_stay_bounded(relu_run):
    """Thousands of health checks are thinned: each chart sends a bounded number of points."""
    template = [r for r in relu_run.records("numpy") if r.weight_hist is not None][0]
    records = [replace(template, step=step, weight_hist=template.weight_hist if step % 20 == 1 else None)
               for step in range(1, 25_001, 5)]                  # 5,000 checks, 1,250 with histograms
    series = hf.health_series(records)
    names = hf.layer_names(relu_run.config.layer_sizes)
    bands = hf.bands_figure("weights", "W", "W", series.hist_step, series.weight_hist, names)
    ratio = hf.update_ratio_figure(series, names)
    assert max(len(t["x"]) for t in bands["data"]) <= hf.BAND_POINTS + 1
    assert max(len(t["x"]) for t in ratio["data"]) <= hf.MAX_POINTS + 1
    assert bands["data"][-1]["x"][-1] == series.hist_step[-1]        # the newest check is always drawn

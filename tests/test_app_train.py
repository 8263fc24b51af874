"""AppTest of Train & compare, through the real router.

AppTest does not fire a fragment's run_every: every at.run() is one redraw, so a test waits for the
run's threads itself (run.join) and then calls at.run() to draw what they recorded.
"""

import base64
import io
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.tools
import pytest
from streamlit.testing.v1 import AppTest

from app_support import figures, series, server
from nn_core.config import TrainConfig
from nn_core.trainer import Record

TIMEOUT = 60
RUNS = "app.runs"


def open_train_page(query: dict | None = None) -> AppTest:
    at = AppTest.from_file("../streamlit_app.py", default_timeout=TIMEOUT).run()
    at.switch_page("app_pages/train.py")
    at.query_params.update(query or {})
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def set_settings(at, **values) -> None:
    widgets = {"hidden": at.text_input, "optimizer": at.selectbox, "activation": at.selectbox}
    for name, value in values.items():
        widget = widgets.get(name, at.number_input)(key=f"train.w.{name}")
        widget.set_value(value)
    at.run()


def train(at, button="train.b.both", wait=True):
    """Click a Train button; wait for the run to end; redraw. Returns the newest run."""
    at.button(key=button).click().run()
    assert not at.exception, [e.value for e in at.exception]
    run = at.session_state[RUNS][-1]
    if wait:
        assert run.join(timeout=TIMEOUT), "the run did not end"
        at.run()
    return run


def errors(at) -> list[str]:
    return [e.value for e in at.error]


def figure(at, title: str) -> dict:
    for chart in at.get("plotly_chart"):
        spec = json.loads(chart.proto.spec)
        if spec["layout"].get("title", {}).get("text", "").startswith(title):
            return spec
    raise AssertionError(f"no chart titled {title!r}")


def n_points(values) -> int:
    """Length of a plotly data array: a JSON list, or {dtype, bdata} for a binary-encoded one."""
    if isinstance(values, dict):
        return np.frombuffer(base64.b64decode(values["bdata"]), dtype=values["dtype"]).size
    return len(values)


def points_per_trace(spec: dict) -> dict:
    return {trace.get("name"): n_points(trace["x"]) for trace in spec["data"]}


def test_page_runs_and_shows_empty_charts_before_training():
    at = open_train_page()
    assert at.title[0].value == "Train & compare"
    assert any("Press **Train both**" in i.value for i in at.info)
    assert len(at.get("plotly_chart")) >= 4       # drawn empty, so the browser loads plotly early
    assert at.button(key="train.b.stop").disabled


def test_train_both_draws_both_twins_then_history_and_downloads():
    at = open_train_page()
    set_settings(at, hidden="16", epochs=1)
    run = train(at)
    assert run.impls == ("numpy", "torch") and run.status == "done", run.messages()
    assert len(run.records("numpy")) == len(run.records("torch")) == series.steps_per_epoch(run)

    points = points_per_trace(figure(at, "Loss"))
    assert points["NumPy batch"] == points["PyTorch batch"] == len(run.records("numpy"))
    assert points["NumPy val"] > 0 and points["PyTorch val"] > 0
    assert points_per_trace(figure(at, "Twin gap"))["gap"] > 0
    assert {s.value for s in at.success} >= {"NumPy twin: finished 1 epochs (63 steps).",
                                            "PyTorch twin: finished 1 epochs (63 steps)."}

    assert "Run history" in [h.value for h in at.header]
    table = at.dataframe[0].value
    assert table["run"].tolist() == ["run 1"] and table["NumPy val acc"][0] > 0.5
    labels = [b.proto.label for b in at.get("download_button")]
    assert labels[:1] == ["Metrics CSV"] and "NumPy model .npz" in labels and "PyTorch model .pt" in labels
    csv = series.records_csv(run).decode()
    assert csv.startswith("impl,step,epoch") and csv.count("\n") == 2 * 63 + 1


class RecordedRun:
    """Just what the CSV reads of a run: its twins and their records."""

    def __init__(self, records: dict):
        self.impls, self._records = tuple(records), records

    def records(self, impl):
        return self._records[impl]


def health_record(impl, step, dead=None, saturated=None, hist=False) -> Record:
    histograms = [{"lo": -1.0, "hi": 1.0, "counts": [step, 1, 2]}] * 2 if hist else None
    return Record(impl, step, 1, 32 * step, 2.3, 0.1, 1e4, 0.01, 0.01 * step,
                  grad_norm=[0.5 * step, 0.25], update_ratio=[1e-3, 2e-3], dead_fraction=dead,
                  saturated_fraction=saturated, weight_hist=histograms, grad_hist=histograms,
                  activation_hist=histograms[:1] if hist else None)


def test_metrics_csv_has_a_column_per_layer_and_no_histograms():
    run = RecordedRun({"numpy": [health_record("numpy", 1, dead=[0.25], hist=True),
                                 health_record("numpy", 2, dead=[0.5])],
                       "torch": [health_record("torch", 1, dead=[0.125], hist=True)]})
    csv = series.records_csv(run).decode()
    frame = pd.read_csv(io.StringIO(csv))
    assert frame["dead_fraction_layer1"].tolist() == [0.25, 0.5, 0.125]
    assert frame["grad_norm_layer1"].tolist() == [0.5, 1.0, 0.5] and "update_ratio_layer2" in frame
    assert not set(series.HISTOGRAMS) & set(frame), list(frame)
    assert "{" not in csv and "[" not in csv            # no dict or list written as text
    assert frame["saturated_fraction"].isna().all()     # a ReLU run has no saturated shares
    # a sigmoid run: saturated shares, one column per hidden layer; dead_fraction stays empty
    sigmoid = RecordedRun({"numpy": [health_record("numpy", 1, saturated=[0.75, 0.0])]})
    frame = pd.read_csv(io.StringIO(series.records_csv(sigmoid).decode()))
    assert frame[["saturated_fraction_layer1", "saturated_fraction_layer2"]].values.tolist() == [[0.75, 0.0]]
    assert frame["dead_fraction"].isna().all()


def test_stop_stops_the_run():
    at = open_train_page()
    set_settings(at, hidden="128,64", epochs=50)
    run = train(at, wait=False)
    assert not at.button(key="train.b.stop").disabled
    at.button(key="train.b.stop").click().run()
    assert run.join(timeout=TIMEOUT)
    at.run()
    assert run.status == "stopped"
    for series in at.session_state["train.series"][run.id].values():   # one point per step
        assert series.step == list(range(1, len(series.step) + 1)) and series.last_event == "stopped"
    assert any("stopped" in m.value for m in at.markdown if m.value.startswith("#### run 1"))
    assert any("stopped by the user" in i.value for i in at.info)


def test_pause_step_resume():
    at = open_train_page()
    set_settings(at, hidden="128,64", epochs=50)
    run = train(at, wait=False)
    at.button(key="train.b.pause").click().run()
    time.sleep(0.5)                                   # a step under way when Pause came finishes
    counts = {impl: len(run.records(impl)) for impl in run.impls}
    time.sleep(0.5)
    assert {impl: len(run.records(impl)) for impl in run.impls} == counts
    at.run()
    assert any(m.value.startswith("#### run 1: paused") for m in at.markdown)
    assert at.button(key="train.b.pause").disabled and not at.button(key="train.b.resume").disabled

    at.button(key="train.b.step").click().run()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(len(run.records(i)) < counts[i] + 1 for i in run.impls):
        time.sleep(0.05)
    time.sleep(0.3)
    assert {impl: len(run.records(impl)) for impl in run.impls} == {i: n + 1 for i, n in counts.items()}

    at.button(key="train.b.resume").click().run()
    time.sleep(0.5)
    assert all(len(run.records(i)) > counts[i] + 1 for i in run.impls)
    at.button(key="train.b.stop").click().run()
    assert run.join(timeout=TIMEOUT) and run.status == "stopped"


def test_bad_settings_show_one_error_and_keep_the_runs():
    at = open_train_page()
    set_settings(at, hidden="16", epochs=1)
    train(at)
    cases = [
        ({"hidden": "128,,64"}, "empty entry at position 2"),
        ({"hidden": "abc"}, "hidden layer size 'abc' is not a whole number"),
        ({"hidden": "-5"}, "hidden layer size -5 must be at least 1"),
        ({"hidden": "100000"}, "widest layer: 100,000 is over this server's cap of"),
        ({"hidden": "16", "lr": 0.0}, "learning rate 0 is outside (0, 100]"),
        ({"lr": 0.1, "epochs": -5}, "epochs must be at least 1, got -5."),
        ({"epochs": 1, "batch_size": -16}, "batch size must be 0 (full batch) or a positive number, got -16."),
        ({"batch_size": 64, "l2": -0.001}, "L2 weight decay -0.001 is outside [0, 10]"),
        ({"l2": 0.0, "dropout": 1.5}, "dropout 1.5 is outside [0, 1)"),
        ({"dropout": 0.0, "seed": -1}, "seed must be 0 or a positive whole number, got -1."),
    ]
    for settings, message in cases:
        set_settings(at, **settings)
        at.button(key="train.b.both").click().run()
        assert not at.exception, [e.value for e in at.exception]
        assert len(errors(at)) == 1 and message in errors(at)[0], (settings, errors(at))
        assert len(at.session_state[RUNS]) == 1          # nothing started, nothing lost
        assert at.dataframe[0].value["run"].tolist() == ["run 1"]
    set_settings(at, seed=0)
    assert errors(at) == []


def test_link_presets_the_settings_and_bad_values_fall_back_with_one_warning():
    at = open_train_page({"hidden": "32,16", "optimizer": "adam", "lr": "0.002", "epochs": "3",
                          "dtype": "float64", "batch_size": "0"})
    assert at.text_input(key="train.w.hidden").value == "32,16"
    assert at.selectbox(key="train.w.optimizer").value == "adam"
    assert at.number_input(key="train.w.lr").value == 0.002
    assert at.number_input(key="train.w.epochs").value == 3
    assert at.number_input(key="train.w.batch_size").value == 0
    assert at.toggle(key="train.w.float64").value is True
    assert not at.warning
    assert at.query_params["hidden"] == "32,16" and at.query_params["optimizer"] == "adam"

    at = open_train_page({"hidden": "32", "lr": "fast", "optimizer": "magic", "epochs": "0"})
    assert len(at.warning) == 1
    for bad in ("lr='fast'", "optimizer='magic'", "epochs='0'"):
        assert bad in at.warning[0].value
    assert at.text_input(key="train.w.hidden").value == "32"                # the good one is kept
    assert at.selectbox(key="train.w.optimizer").value == TrainConfig().optimizer   # defaults for the rest
    assert at.number_input(key="train.w.epochs").value == TrainConfig().epochs
    assert errors(at) == []


def test_divergence_is_one_error_per_twin():
    at = open_train_page()
    set_settings(at, hidden="128,64", optimizer="sgd", lr=50.0, epochs=1)
    run = train(at)
    assert run.status == "diverged"
    # nn_core stops a run whose loss became NaN/inf, or exploded far above its start.
    assert len(errors(at)) == 2, errors(at)
    for error in errors(at):
        assert "the loss became" in error and ("NaN/inf" in error or "exploded" in error), error
        assert "lower the learning rate (it is 50)" in error


def test_without_torch_only_numpy_trains(monkeypatch):
    monkeypatch.setattr(server, "torch_available", lambda: False)
    at = open_train_page()
    assert at.button(key="train.b.both").disabled and at.button(key="train.b.torch").disabled
    assert any("pip install torch==2.13.0" in i.value for i in at.info)
    set_settings(at, hidden="16", epochs=1)
    run = train(at, button="train.b.numpy")
    assert run.impls == ("numpy",) and run.status == "done"
    assert points_per_trace(figure(at, "Loss"))["NumPy batch"] == 63
    assert [b.proto.label for b in at.get("download_button")] == ["Metrics CSV", "NumPy model .npz"]


WITHOUT_TORCH = """
import importlib.abc, sys
class NoTorch(importlib.abc.MetaPathFinder):      # as if torch were not installed
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] == "torch":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, NoTorch())
from streamlit.testing.v1 import AppTest
at = AppTest.from_file(sys.argv[1], default_timeout=60).run()
assert not at.exception, at.exception
at.switch_page("app_pages/train.py").run()
assert not at.exception, at.exception
assert at.button(key="train.b.both").disabled
at.text_input(key="train.w.hidden").set_value("16")
at.number_input(key="train.w.epochs").set_value(1)
at.run()
at.button(key="train.b.numpy").click().run()
run = at.session_state["app.runs"][-1]
assert run.join(60) and run.status == "done", run.messages()
at.run()
assert not at.exception, at.exception
assert "torch" not in sys.modules
print("ok")
"""


def test_app_starts_and_trains_numpy_without_torch():
    app = Path(__file__).resolve().parent.parent / "streamlit_app.py"
    result = subprocess.run([sys.executable, "-c", WITHOUT_TORCH, str(app)], capture_output=True,
                            text=True, timeout=120, cwd=app.parent)
    assert result.stdout.strip().endswith("ok"), result.stdout[-2000:] + result.stderr[-3000:]


def test_queue_place_is_shown_while_the_server_trains_as_many_runs_as_it_may():
    pool = server.trainer_pool()
    blockers = [f"test-blocker-{i}" for i in range(pool.max_runs)]   # NN_MAX_CONCURRENT_RUNS runs
    held = {name: pool.acquire(name, ("numpy",), lambda: False)[0] for name in blockers}
    try:
        at = open_train_page()
        set_settings(at, hidden="16", epochs=1)
        run = train(at, wait=False)
        at.run()
        assert run.status == "queued"
        assert any("you are number 1 in the queue" in i.value for i in at.info)
        # Nothing to draw yet, and on a busy server every redraw counts: no charts, one sentence.
        assert len(at.get("plotly_chart")) == 0
        assert any("charts appear as soon as this run starts" in c.value for c in at.caption)
        assert any(f"trains at most {pool.max_runs} runs at once, and that many are training now"
                   in i.value for i in at.info)
        # Its status costs the server little: it looks every second, then one full rerun at its start.
        assert at.session_state["train.polled_while_queued"] == run.id
        history = at.dataframe[0]                                    # no accuracy yet: a dash, not "None"
        assert history.value[["NumPy val acc", "PyTorch val acc"]].isna().all(axis=None)
        assert history.proto.placeholder == "—"
    finally:
        for name, worker in held.items():
            pool.release(name, [(worker, "numpy")])
    assert run.join(timeout=TIMEOUT) and run.status == "done"
    at.run()
    assert len(at.get("plotly_chart")) >= 6           # the live charts, the weights and the history
    assert at.dataframe[0].value["NumPy val acc"][0] > 0.5
    assert at.session_state["train.polled_while_queued"] is None


@pytest.mark.parametrize("make", [figures.loss_figure, figures.accuracy_figure, figures.grad_norm_figure,
                                  figures.training_speed_figure])
def test_figures_of_a_run_without_records_are_valid(make):
    # plotly refuses a figure without traces; before the first step the charts must still draw.
    plotly.tools.return_figure_from_figure_or_data(make({}), validate_figure=True)

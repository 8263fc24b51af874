"""AppTest of the Experiments page, through the real router.

AppTest does not fire run_every: each at.run() is one redraw, so the test waits for the runs itself.
"""

import json
import time

from streamlit.testing.v1 import AppTest

from nn_core.experiments import PRESETS
from nn_core.lr_find import RULE

TIMEOUT = 60
PAGE = "app_pages/experiments.py"
CURRENT = "experiments.current"
STUDENT = "app.student"
SMALL = {"hidden": "16", "epochs": "1", "batch_size": "500"}


def checked(at: AppTest) -> AppTest:
    assert not at.exception, [e.value for e in at.exception]
    return at


def open_page(query: dict | None = None, token: str | None = None) -> AppTest:
    """The page in a new session; with `token`, of that student (as their cookie would say: AppTest
    sends no cookies, so it goes where app_support.identity keeps what it read)."""
    at = AppTest.from_file("../streamlit_app.py", default_timeout=TIMEOUT)
    if token:
        at.session_state[STUDENT] = token
    at.run().switch_page(PAGE)
    at.query_params.update(query or {})
    return checked(at.run())


def captions(at) -> str:
    return "\n".join(c.value for c in at.caption)


def errors(at) -> list[str]:
    return [e.value for e in at.error]


def traces(at, key: str) -> dict:
    """name -> number of points of each trace of the chart with this key."""
    chart = next(c for c in at.get("plotly_chart") if c.proto.id and key in c.proto.id)
    spec = json.loads(chart.proto.spec)
    return {t["name"]: len(t["x"]["bdata"] if isinstance(t["x"], dict) else t["x"]) for t in spec["data"]}


def run_experiment(at):
    at.button(key="experiments.run").click().run()
    assert not at.exception and not errors(at), errors(at)
    current = at.session_state[CURRENT]
    for run in current.runs:
        assert run.join(timeout=TIMEOUT), "a run did not end"
    checked(at.run())
    return current


def test_default_form_is_the_optimizer_race_and_the_url_holds_it():
    at = open_page()
    assert not errors(at)
    assert at.selectbox(key="experiments.w.vary").value == "optimizer"
    assert at.text_input(key="experiments.w.values").value == ",".join(PRESETS["optimizer_race"].values)
    assert at.query_params["vary"] == "optimizer" and at.query_params["twin"] == "numpy"
    assert any("only optimizer differs" in c.value for c in at.caption)


def test_a_shared_link_runs_three_values_from_the_same_start():
    at = open_page({"vary": "lr", "values": "0.01,0.1,0.3", "twin": "numpy", **SMALL})
    assert at.text_input(key="experiments.w.values").value == "0.01,0.1,0.3"
    assert at.number_input(key="experiments.w.epochs").value == 1
    current = run_experiment(at)
    assert current.experiment.labels == ["lr=0.01", "lr=0.1", "lr=0.3"]
    # The check, on the page: same seed and architecture -> equal step-1 losses.
    first = [run.records("numpy")[0].loss for run in current.runs]
    assert max(first) - min(first) <= 1e-6, first
    loss = traces(at, "experiments_chart_loss")
    assert set(loss) == {"lr=0.01", "lr=0.1", "lr=0.3"} and all(n > 1 for n in loss.values())
    table = at.dataframe[0].value
    assert list(table["run"]) == current.experiment.labels and (table["outcome"] == "done").all()
    assert table["step-1 loss"].max() - table["step-1 loss"].min() <= 1e-6
    assert any("reached the best final validation accuracy" in s.value for s in at.success)


def test_preset_button_fills_the_form_and_names_the_preset_in_the_url():
    at = open_page()
    at.button(key="experiments.preset.learning_rate").click().run()
    assert at.selectbox(key="experiments.w.vary").value == "lr"
    assert at.text_input(key="experiments.w.values").value == "0.001,0.1,3"
    assert at.selectbox(key="experiments.w.optimizer").value == "sgd"
    assert at.query_params["preset"] == "learning_rate"
    assert any(PRESETS["learning_rate"].lesson in c.value for c in at.caption)
    at.text_input(key="experiments.w.values").set_value("0.001,0.1").run()
    assert "preset" not in at.query_params                      # no longer the preset


def test_a_preset_link_fills_the_form_and_keeps_its_name():
    at = open_page({"preset": "sigmoid_vs_relu", "seed": "3", "init": "glorot"})
    assert at.selectbox(key="experiments.w.vary").value == "activation"
    assert at.text_input(key="experiments.w.hidden").value == "64,64,64,64,64"
    assert at.number_input(key="experiments.w.seed").value == 3              # the link's own value too
    assert at.selectbox(key="experiments.w.init").value == "xavier"           # the preset's, not 'glorot'
    assert any("init='glorot'" in w.value for w in at.warning)
    assert at.query_params["preset"] == "sigmoid_vs_relu"
    assert any(PRESETS["sigmoid_vs_relu"].lesson in c.value for c in at.caption)


def test_bad_values_and_bad_links_are_one_sentence():
    at = open_page({"vary": "colour", "values": "1,2"})
    assert any("vary='colour'" in w.value for w in at.warning)
    assert errors(at) == []               # values meant for 'colour' are not read as optimizers
    assert at.text_input(key="experiments.w.values").value == ",".join(PRESETS["optimizer_race"].values)
    at.text_input(key="experiments.w.values").set_value("sgd").run()
    assert errors(at) == ["give 2 to 6 values of optimizer to compare, separated by commas; got 1."]
    assert at.button(key="experiments.run").disabled


def test_an_unknown_preset_or_twin_in_a_link_gets_a_note():
    at = open_page({"preset": "nonsense", "twin": "gpu"})
    warning = " ".join(w.value for w in at.warning)
    assert "preset='nonsense'" in warning and "twin='gpu'" in warning
    assert at.selectbox(key="experiments.w.vary").value == "optimizer" and errors(at) == []


def test_lr_finder_marks_a_suggestion_and_opens_train_with_it():
    at = open_page({"hidden": "32"})
    at.button(key="experiments.find_lr").click().run()
    assert not at.exception and not errors(at), errors(at)
    finding, _ = at.session_state["experiments.lr_finding"]
    assert finding.suggested_lr is not None
    assert set(traces(at, "experiments_chart_lr")) == {"batch loss", "smoothed loss",
                                                       f"suggestion: {finding.suggested_lr:.2g}"}
    assert any("suggested learning rate" in i.value and RULE in i.value for i in at.info)
    checked(at.button(key="experiments.use_lr").click().run())
    assert at.number_input(key="train.w.lr").value == float(f"{finding.suggested_lr:.2g}")
    assert at.text_input(key="train.w.hidden").value == "32"


def test_lr_finder_figure_copes_with_a_blow_up_and_no_suggestion():
    from app_support.experiment_figures import lr_finder_figure
    from nn_core.lr_find import Finding, Probe
    probes = [Probe(1, 1e-6, 2.3, 2.3), Probe(2, 1e-3, 2.4, 2.35), Probe(3, 1.0, float("nan"), float("inf"))]
    fig = lr_finder_figure(Finding("numpy", probes, None, True, "stopped."))
    assert [t.name for t in fig.data] == ["batch loss", "smoothed loss"]        # no suggestion marked
    assert fig.layout.xaxis.type == "log" and fig.layout.yaxis.range == (0, 1.5 * 2.3)


def test_a_reload_finds_the_experiment_training_and_a_restart_finds_it_finished():
    from app_support import session

    first = open_page({"vary": "lr", "values": "0.01,0.1,0.3", "twin": "numpy", "hidden": "64",
                       "epochs": "200"})
    first.button(key="experiments.run").click().run()
    started = first.session_state[CURRENT]
    token = first.session_state[STUDENT]

    again = open_page(dict(first.query_params), token)                 # F5: a new session
    current = again.session_state[CURRENT]
    assert current is started and current.active                          # the very same runs, live
    assert any(m.value.startswith(f"**Your experiment {started.number}** (NumPy twin): lr=0.01, lr=0.1, lr=0.3")
               for m in again.markdown)
    deadline = time.monotonic() + TIMEOUT          # (two trainer processes: the third run may queue)
    while not all(run.records("numpy") for run in started.runs[:2]) and time.monotonic() < deadline:
        time.sleep(0.05)
    checked(again.run())                                                   # one redraw of the fragment
    drawn = {run.label for run in started.runs if run.records("numpy")}
    assert {"lr=0.01", "lr=0.1"} <= drawn and not any(run.finished for run in started.runs)
    assert set(traces(again, "experiments_chart_loss")) == drawn
    (line,) = [c.value for c in again.sidebar.caption if c.value.startswith("**Experiment")]  # while it trains
    head, statuses = line.split(":** ")
    assert head == f"**Experiment {started.number}" and statuses.split(", ")[:2] == ["running", "running"]
    assert not again.button(key="experiments.stop").disabled
    again.button(key="experiments.stop").click().run()                     # driven from the new page
    for run in started.runs:
        assert run.join(timeout=TIMEOUT) and run.status == "stopped"
    assert open_page(token=None).session_state[CURRENT] is None            # another student: nothing

    session.students.clear()                                               # a server restart
    try:
        back = checked(open_page(token=token).run())
        current = back.session_state[CURRENT]
        assert [run.id for run in current.runs] == [run.id for run in started.runs]
        assert list(back.dataframe[0].value["outcome"]) == ["stopped"] * 3
        assert any("did not finish" in s.value for s in back.success)
        assert set(traces(back, "experiments_chart_loss")) == drawn                # read from the store
        assert "**lr=0.01**: stopped by the user after step" in captions(back)
        assert not any(c.value.startswith("**Experiment") for c in back.sidebar.caption)    # ended
        assert "only lr differs" in captions(back)                  # the form is the experiment's
        assert back.text_input(key="experiments.w.values").value == "0.01,0.1,0.3"
        assert "Run history" not in [h.value for h in back.switch_page("app_pages/train.py").run().header]
    finally:
        session.students.clear()


def test_a_diverged_run_shows_a_dash_where_it_has_no_accuracy():
    at = open_page({"vary": "lr", "values": "0.1,10", "optimizer": "sgd", "hidden": "64", "epochs": "1",
                    "batch_size": "16"})
    current = run_experiment(at)
    assert [run.status for run in current.runs] == ["done", "diverged"]
    table = at.dataframe[0].value.set_index("run")
    assert table.loc["lr=10"][["final val acc", "best epoch"]].isna().all()    # no number to show...
    assert at.dataframe[0].proto.placeholder == "—"                            # ...shown as a dash, not "None"
    assert table.loc["lr=0.1", "final val acc"] > 0.5

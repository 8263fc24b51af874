"""AppTest of One training step: every stage with Previous/Next, NumPy vs autograd, the update, and
one unit up close."""

import pytest
from streamlit.testing.v1 import AppTest

from nn_core import data as nn_data
from nn_core.config import TrainConfig
from nn_core.run import Run, run_to_end

TIMEOUT = 60


@pytest.fixture(scope="module")
def trained_run():
    config = TrainConfig(hidden=(16, 8), epochs=1, batch_size=500, optimizer="adam", lr=1e-3)
    split = nn_data.make_split(nn_data.load_shipped_sample(), config.val_fraction, config.seed)
    run = run_to_end(Run(config, split, name="run 1 · numpy, torch · test"))
    assert set(run.twins) == {"numpy", "torch"} and not run.errors, run.messages()
    return run


def open_step_page(run) -> AppTest:
    at = AppTest.from_file("../streamlit_app.py", default_timeout=TIMEOUT)
    at.session_state["app.runs"] = [run]
    at.run()
    at.switch_page("app_pages/step.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def stage_title(at) -> str:
    return [m.value for m in at.markdown if m.value.startswith("#### ")][0][5:]


def test_page_without_a_model_says_how_to_get_one():
    at = AppTest.from_file("../streamlit_app.py", default_timeout=TIMEOUT).run()
    at.switch_page("app_pages/step.py").run()
    assert not at.exception
    assert any("Train a model on Train & compare first" in i.value for i in at.info)


def test_previous_and_next_walk_through_every_stage(trained_run):
    at = open_step_page(trained_run)
    assert at.button(key="step.prev").disabled
    assert at.selectbox(key="step.optimizer").value == "adam"         # the run's own optimizer
    titles = [stage_title(at)]
    gradients_seen = {}
    while not at.button(key="step.next").disabled:
        at.button(key="step.next").click().run()
        assert not at.exception, [e.value for e in at.exception]
        titles.append(stage_title(at))
        for frame in (d.value for d in at.dataframe if "NumPy vs autograd" in d.value.columns):
            gradients_seen.update(zip(frame["gradient"], frame["NumPy vs autograd"]))
        if titles[-1].startswith("Update"):
            break
        assert len(at.latex) >= 1                                     # every stage has its formula
    assert titles == ["The input", "Forward: hidden layer 1", "Forward: hidden layer 2",
                      "Forward: output layer 3", "Forward: probabilities", "The loss",
                      "Backward: the error at the output", "Backward: layer 3", "Backward: layer 2",
                      "Backward: layer 1", "Update: the optimizer's step"]
    assert at.button(key="step.next").disabled
    # every gradient tensor was checked against autograd on its own stage, and agreed
    assert set(gradients_seen) == {"dZ[3]", "dW[3]", "db[3]", "dA[2]", "dZ[2]", "dW[2]", "db[2]",
                                   "dA[1]", "dZ[1]", "dW[1]", "db[1]"}
    assert set(gradients_seen.values()) <= {"✓ exact", "✓ close"}
    # the update stage: Adam's rule with its moments, one weight worked through, the loss after
    assert any(r"\frac{m / (1 - 0.9^t)}" in l.value for l in at.latex)
    worked = [m.value for m in at.markdown if m.value.startswith("**One weight, worked through:**")]
    assert worked and ", then m = " in worked[0] and ", then s = " in worked[0]
    assert any(m.value.startswith("Loss on this digit:") for m in at.markdown)
    for _ in range(len(titles) - 1):
        at.button(key="step.prev").click().run()
    assert stage_title(at) == "The input" and at.button(key="step.prev").disabled


def test_other_optimizer_shows_its_own_rule(trained_run):
    at = open_step_page(trained_run)
    at.selectbox(key="step.optimizer").set_value("momentum").run()
    at.session_state["step.stage"] = 99                                # clamped to the last stage
    at.run()
    assert stage_title(at).startswith("Update")
    assert any(r"v \leftarrow 0.9\, v + g" in l.value for l in at.latex)
    worked = [m.value for m in at.markdown if m.value.startswith("**One weight, worked through:**")][0]
    assert ", then v = " in worked and ", then m = " not in worked


def test_the_full_comparison_table_reads_exact_or_close(trained_run):
    at = open_step_page(trained_run)
    frame = [d.value for d in at.dataframe if "NumPy vs autograd" in d.value.columns][-1]
    assert len(frame) == 11
    assert set(frame["NumPy vs autograd"]) <= {"✓ exact", "✓ close"}


def test_one_unit_up_close(trained_run):
    at = open_step_page(trained_run)
    at.number_input(key="step.unit").set_value(3).run()
    assert not at.exception
    titles = [c.proto.spec for c in at.get("plotly_chart") if '"its' in c.proto.spec or "ink" in c.proto.spec]
    assert len(titles) >= 4                                            # weights, ink, product, gradient
    forward = [m.value for m in at.markdown if m.value.startswith("**Forward.**")][0]
    assert "Σ = " in forward and "z = " in forward and "f(z) = relu(z) = " in forward
    backward = [m.value for m in at.markdown if m.value.startswith("**Backward.**")][0]
    assert "dA = " in backward and "f'(z) = " in backward and "dz = dA · f'(z) = " in backward

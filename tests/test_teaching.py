"""The sentences that teach: each corrected text or label is shown where it belongs (issue 14)."""

import json
from pathlib import Path

import numpy as np
from streamlit.testing.v1 import AppTest

from app_support import figures, sidebar, teaching
from app_support import health_figures as hf
from app_support import train_settings as ts
from corpus import CSV_DIR
from corpus.models import MODELS_DIR
from nn_core import data as nn_data
from nn_core import images
from nn_core.functional import ACTIVATIONS
from nn_core.run import DIVERGED, RUNNING
from test_app_pages import open_page

TIMEOUT = 60
ROOT = Path(__file__).resolve().parents[1]


def train_page_after_a_run(**settings) -> AppTest:
    at = open_page("app_pages/train.py")
    for name, value in settings.items():
        widget = at.text_input if name == "hidden" else at.toggle if name == "float64" else at.number_input
        widget(key=f"train.w.{name}").set_value(value)
    at.run()
    at.button(key="train.b.both").click().run()
    run = at.session_state["app.runs"][-1]
    assert run.join(timeout=TIMEOUT)
    at.run()
    assert not at.exception and run.status == "done", run.messages()
    return at


def captions(at) -> str:
    return "\n".join(c.value for c in at.caption)


def figure(at, title: str) -> dict:
    for chart in at.get("plotly_chart"):
        spec = json.loads(chart.proto.spec)
        if spec["layout"].get("title", {}).get("text", "").startswith(title):
            return spec
    raise AssertionError(title)


def test_every_notice_is_used_and_listed_in_teaching_md():
    # the pages and the page sections they call (app_support.live_view, .run_history, ...)
    pages = "".join(p.read_text() for folder in ("app_pages", "app_support")
                    for p in (ROOT / folder).glob("*.py"))
    doc = (ROOT / "docs" / "TEACHING.md").read_text()
    for key, sentence in teaching.NOTICE.items():
        assert f'NOTICE["{key}"]' in pages or 'NOTICE[f"gap_' in pages and key.startswith("gap_"), key
        assert sentence.split(":** ")[1][:40].format(unit="unit") in doc.replace("\n", " "), key


def test_network_health_sentences_are_in_teaching_md_word_for_word():
    doc = (ROOT / "docs" / "TEACHING.md").read_text()
    health = doc[doc.index("## Network health"):doc.index("## One training step")]
    assert set(hf.UNITS_NOTICE) == set(ACTIVATIONS)      # every activation has a units sentence
    # the table gives the saturated sentence as a sigmoid run shows it (tanh's names tanh instead)
    shown = {hf.notice(chart, "relu") for chart in hf.NOTICE} | {
        hf.notice("units", activation) for activation in ("relu", "leaky_relu", "sigmoid")}
    assert len(shown) == 7 and all(s.startswith("**What to notice:** ") for s in shown)
    for sentence in shown:
        assert f"| {sentence.removeprefix('**What to notice:** ')} |" in health, sentence


def test_train_page_float64_run_texts_labels_and_help():
    at = train_page_after_a_run(hidden="8,8", epochs=1, float64=True)
    text = captions(at)
    assert teaching.NOTICE["gap_float64"] in text and "Switch **float64** on" not in text
    assert "float32 keeps about 7 digits" not in text
    for key in ("loss", "accuracy", "speed", "gradients", "history"):
        assert teaching.NOTICE[key] in text, key
    assert "ln 10 ≈ 2.30" in text and "overfitting" in text
    grad = figure(at, "Gradient size per layer")
    assert grad["layout"]["yaxis"]["title"]["text"] == "RMS gradient"
    assert {t["name"] for t in grad["data"]} >= {"NumPy layer 1", "NumPy layer 3", "PyTorch layer 2"}
    assert "All 8 units are shown." in text and "keep their random starting values" in text
    run = at.session_state["app.runs"][-1]
    assert f"({int(images.never_inked_pixels(run.split.x_train).sum())} of 784 here" in text
    assert at.number_input(key="train.w.lr").help == ts.HELP["lr"]
    assert r"\frac{m / (1 - 0.9^t)}" in at.selectbox(key="train.w.optimizer").help
    assert "adam**: 0.0001 to 0.01" in ts.HELP["lr"] and "wrecks them" in ts.HELP["lr"]
    assert "[-0.5, 0.5)" in at.selectbox(key="train.w.init").help
    l2_help = at.number_input(key="train.w.l2").help
    assert "not the biases" in l2_help and "weight_decay" in l2_help and "not AdamW" in l2_help
    assert "without this penalty" in l2_help
    assert teaching.PRECISION in at.toggle(key="train.w.float64").help


def test_train_page_float32_without_hidden_layer():
    at = train_page_after_a_run(hidden="", epochs=1)
    text = captions(at)
    assert teaching.NOTICE["gap_float32"] in text
    assert "not associative" in text and "about 1e-7" in text
    labels = [a["text"] for a in figure_without_title(at)["layout"]["annotations"]]
    assert labels == [f"digit {d}" for d in range(10)]                 # not "digit 1" … "digit 10"
    assert "All 10 digits are shown." in text


def figure_without_title(at) -> dict:
    """The weight tiles (a figure with annotations and no title)."""
    for chart in at.get("plotly_chart"):
        spec = json.loads(chart.proto.spec)
        if spec["layout"].get("annotations"):
            return spec
    raise AssertionError("no weight tiles")


def test_weight_tiles_say_how_many_are_shown():
    W = np.zeros((784, 128))
    assert figures.tiles_shown_text(W) == "Shown: the first 16 of 128 units."
    labels = [a["text"] for a in figures.weights_figure(W)["layout"]["annotations"]]
    assert labels[0] == "unit 1" and labels[-1] == "unit 16"


def test_home_states_the_gap_and_the_precision_once():
    at = AppTest.from_file("../streamlit_app.py", default_timeout=TIMEOUT).run()
    home = " ".join(m.value for m in at.markdown)
    assert teaching.PRECISION in home and "drop the same units when dropout is on" in home
    assert "about 1e-15" in home


def test_try_it_wording(tmp_path):
    at = open_page("app_pages/try_it.py")
    assert not at.exception
    assert "Try it page" in nn_data.PICTURE_HINT and "drawing page" not in nn_data.PICTURE_HINT
    assert teaching.plural(1, "digit") == "1 digit" and teaching.plural(2, "digit") == "2 digits"


def test_uploaded_pt_model_is_not_called_numpy():
    at = open_page("app_pages/inside.py")
    name = "valid.pt"
    at.file_uploader(key="inside.model_file").set_value(
        (name, (MODELS_DIR / name).read_bytes(), "application/octet-stream")).run()
    assert not at.exception
    said = [m.value for m in at.markdown if "predicts" in m.value]
    assert said and said[0].startswith("#### Uploaded .pt model predicts"), said
    assert not any("NumPy predicts" in m for m in said)


def test_one_row_test_csv_says_1_digit():
    at = open_page("app_pages/try_it.py", **{"app.models": {}})
    # a model is needed for the Kaggle section: upload the valid .npz first
    at.file_uploader(key="try.model_file").set_value(
        ("valid.npz", (MODELS_DIR / "valid.npz").read_bytes(), "application/octet-stream")).run()
    row = (CSV_DIR / "good_test_layout.csv").read_text().splitlines()[:2]
    at.file_uploader(key="try.kaggle_file").set_value(("one.csv", ("\n".join(row) + "\n").encode(), "text/csv")).run()
    assert not at.exception
    assert any(m.value == "one.csv: 1 digit." for m in at.markdown), [m.value for m in at.markdown]
    assert any("The dark diagonal counts the hits" in c.value for c in at.caption)
    assert not any("a bright cell off it" in c.value for c in at.caption)


def test_a_dot_on_the_canvas_gets_the_too_little_ink_hint():
    canvas = np.zeros((280, 280, 4), np.uint8)
    canvas[..., 3] = 255
    dot = canvas.copy()
    dot[250:270, 250:270, :3] = 255                  # one click of the 20 px brush, in a corner
    hint = images.little_ink_hint(dot)
    assert hint and "only 7% of the square" in hint and "Draw bigger" in hint
    seven = canvas.copy()
    seven[40:60, 60:220, :3] = 255
    seven[60:240, 190:210, :3] = 255
    assert images.little_ink_hint(seven) is None
    assert images.little_ink_hint(canvas) is None    # blank: the page already asks to draw


class FlakyRun:
    """A finished (diverged) run whose status reads 'running' the first time: the moment between
    the sidebar's look at it and the page's."""

    def __init__(self, run):
        self._run, self._reads = run, 0

    def __getattr__(self, name):
        return getattr(self._run, name)

    @property
    def status(self):
        self._reads += 1
        return RUNNING if self._reads == 1 else DIVERGED

    @property
    def finished(self):
        return self.status != RUNNING


def sidebar_script():
    import streamlit as st

    from app_support import sidebar
    run = st.session_state["flaky"]
    st.session_state["sidebar_runs"] = st.session_state.get("sidebar_runs", 0) + 1
    sidebar.run_status(run, polling=True)


def test_sidebar_catches_up_with_a_run_that_ends_while_drawn():
    from nn_core.config import TrainConfig
    from nn_core.run import Run
    run = Run(TrainConfig(hidden=(4,), epochs=1), nn_data.make_split(nn_data.load_shipped_sample()))
    at = AppTest.from_function(sidebar_script, default_timeout=TIMEOUT)
    at.session_state["flaky"] = FlakyRun(run)
    at.run()
    # its first read said running; seeing the run ended, it asked for one full rerun, which drew
    # the final status, and no more reruns after that
    assert at.session_state[sidebar.CAUGHT_UP] == run.id
    assert at.session_state["sidebar_runs"] == 2
    assert at.caption[0].value.endswith("· diverged")

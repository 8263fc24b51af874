"""AppTest of the Data, Inside, Try it, Gradient check and Speed pages, through the real router.

AppTest runs no JavaScript, so the drawing canvas (a Components v2 component) cannot be driven here:
its path is tested in test_images.py with a synthetic RGBA array, and in a real browser separately.
"""

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from app_support import server
from corpus import CSV_CASES, CSV_DIR
from corpus.images import GOOD_IMAGE_CASES, IMAGE_CASES, IMAGE_DIR
from corpus.models import MODEL_CASES, MODELS_DIR, VALID_MODELS
from nn_core import data as nn_data
from nn_core.config import TrainConfig
from nn_core.run import Run, run_to_end

TIMEOUT = 60
PAGES = ["app_pages/data.py", "app_pages/inside.py", "app_pages/try_it.py", "app_pages/gradient_check.py", "app_pages/speed.py"]


def open_page(page: str, **session) -> AppTest:
    at = AppTest.from_file("../streamlit_app.py", default_timeout=TIMEOUT)
    for key, value in session.items():
        at.session_state[key] = value
    at.run()
    at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def charts(at) -> list:
    return at.get("plotly_chart")


def errors(at) -> list[str]:
    return [e.value for e in at.error]


def small_csv(n_per_digit=3) -> bytes:
    """A valid Kaggle train.csv: n_per_digit rows of each digit."""
    rng = np.random.default_rng(0)
    lines = ["label," + ",".join(f"pixel{i}" for i in range(784))]
    for digit in range(10):
        for _ in range(n_per_digit):
            lines.append(",".join([str(digit), *map(str, rng.integers(0, 256, 784))]))
    return ("\n".join(lines) + "\n").encode()


@pytest.fixture(scope="module")
def trained_run():
    """A finished run of both twins: a few steps on the shipped sample."""
    config = TrainConfig(hidden=(16,), epochs=1, batch_size=500, eval_every=5)
    split = nn_data.make_split(nn_data.load_shipped_sample(), config.val_fraction, config.seed)
    run = run_to_end(Run(config, split, name="run 1 · numpy, torch · test"))
    assert set(run.twins) == {"numpy", "torch"} and not run.errors, run.messages()
    return run


@pytest.mark.parametrize("page", PAGES)
def test_page_renders(page):
    at = open_page(page)
    assert not errors(at)
    if page in ("app_pages/inside.py", "app_pages/try_it.py"):
        assert any("Train a model on Train & compare first, or upload one" in i.value for i in at.info)
        assert at.page_link


def test_data_page_upload_good_then_every_bad_csv():
    at = open_page("app_pages/data.py")
    assert len(charts(at)) == 3                        # counts, sample grid, means

    at.file_uploader(key="data.file").set_value(("mine.csv", small_csv(), "text/csv")).run()
    assert not at.exception and not errors(at)
    assert at.session_state["app.dataset"].name == "mine.csv"
    assert len(at.session_state["app.dataset"]) == 30
    assert "mine.csv" in at.success[0].value

    problems = []
    for name, expected, stage in CSV_CASES:
        at.file_uploader(key="data.file").set_value((name, (CSV_DIR / name).read_bytes(), "text/csv")).run()
        shown = errors(at)
        if at.exception or len(shown) != 1 or expected not in shown[0]:
            problems.append((name, stage, shown, [e.value for e in at.exception]))
        if at.session_state["app.dataset"].name != "mine.csv" or len(charts(at)) != 3:
            problems.append((name, "the previous dataset was not kept"))
    assert not problems, problems


def test_data_page_switches_back_to_the_shipped_sample():
    at = open_page("app_pages/data.py")
    at.file_uploader(key="data.file").set_value(("mine.csv", small_csv(), "text/csv")).run()
    assert at.selectbox(key="data.choice").value == "uploaded: mine.csv"
    shipped = nn_data.SHIPPED_KEY
    at.selectbox(key="data.choice").set_value(shipped).run()
    assert not at.exception
    assert at.session_state["app.dataset"].name == nn_data.SHIPPED_SAMPLE.name


def test_inside_with_a_trained_run(trained_run):
    at = open_page("app_pages/inside.py", **{"app.runs": [trained_run]})
    assert not errors(at)
    n_charts = len(charts(at))
    assert n_charts == 1 + 1 + 1 + 2                   # digit, probabilities, 1 hidden layer, 2 histograms
    assert any(link.proto.page == "step" for link in at.get("page_link"))
    # the histogram caption counts dW1's exactly-zero rows: pixels without ink in any of the digits
    x = trained_run.split.x_val[:256]
    blank = int((~(x != 0).any(axis=0)).sum())
    assert blank > 50
    assert any(f"In layer 1, {blank} of 784 pixel rows of dW are exactly 0" in c.value for c in at.caption)
    assert not any("units that no digit switches on" in c.value for c in at.caption)
    assert any("What to notice" in c.value and "sum to 1" in c.value for c in at.caption)
    at.slider(key="inside.index").set_value(17).run()
    at.radio(key="inside.twin").set_value("PyTorch").run()
    assert not at.exception and not errors(at) and len(charts(at)) == n_charts


def test_inside_with_uploaded_models_good_and_bad():
    at = open_page("app_pages/inside.py")
    uploader = "inside.model_file"
    problems = []
    for name in VALID_MODELS:
        at.file_uploader(key=uploader).set_value((name, (MODELS_DIR / name).read_bytes(), "application/octet-stream")).run()
        if at.exception or errors(at) or len(charts(at)) < 4 or at.selectbox(key="inside.source").value != f"uploaded · {name}":
            problems.append((name, errors(at), [e.value for e in at.exception]))
    for name, expected in MODEL_CASES:
        at.file_uploader(key=uploader).set_value((name, (MODELS_DIR / name).read_bytes(), "application/octet-stream")).run()
        shown = errors(at)
        if at.exception or len(shown) != 1 or expected not in shown[0] or len(charts(at)) < 4:
            problems.append((name, shown, [e.value for e in at.exception]))
    assert not problems, problems


def test_try_it_with_a_run_pictures_confusion_and_kaggle(trained_run):
    at = open_page("app_pages/try_it.py", **{"app.runs": [trained_run]})
    assert not errors(at)
    assert len(charts(at)) == 2                        # confusion matrix, mistakes gallery
    assert any("Draw one digit" in i.value for i in at.info)   # the canvas is there, still empty

    at.segmented_control(key="try.way").set_value("Upload a picture").run()
    problems = []
    for name in GOOD_IMAGE_CASES:
        at.file_uploader(key="try.picture").set_value((name, (IMAGE_DIR / name).read_bytes(), "image/png")).run()
        said = [m.value for m in at.markdown if "says" in m.value]
        if at.exception or errors(at) or len(charts(at)) != 4 or not said or "PyTorch says" not in said[0]:
            problems.append((name, errors(at), said))
    for name, expected in IMAGE_CASES:
        at.file_uploader(key="try.picture").set_value((name, (IMAGE_DIR / name).read_bytes(), "image/png")).run()
        shown = errors(at)
        if at.exception or len(shown) != 1 or expected not in shown[0] or len(charts(at)) != 2:
            problems.append((name, shown, [e.value for e in at.exception]))
    assert not problems, problems

    # Kaggle: a bad file, then a test.csv -> submission.csv
    at.file_uploader(key="try.kaggle_file").set_value(("test.csv", b"nonsense", "text/csv")).run()
    assert any("test.csv" in e for e in errors(at))
    good = (CSV_DIR / "good_test_layout.csv").read_bytes()
    at.file_uploader(key="try.kaggle_file").set_value(("test.csv", good, "text/csv")).run()
    at.button(key="try.predict").click().run()
    assert not at.exception
    submission = at.session_state["try.submission"][1]
    assert submission.columns.tolist() == ["ImageId", "Label"] and submission["ImageId"].tolist() == [1, 2, 3, 4, 5]
    assert len(at.download_button) == 1


def test_gradient_check_button_shows_passing_table():
    at = open_page("app_pages/gradient_check.py")
    at.text_input(key="gradient_check.hidden").set_value("6, 4")
    at.selectbox(key="gradient_check.activation").set_value("tanh")
    at.button[0].click().run()
    assert not at.exception and not errors(at)
    table = at.dataframe[0].value
    assert len(table) == 6                             # W and b of 3 layers
    verdicts = table.filter(like="(≤").to_numpy().ravel()
    assert (verdicts == "✓ pass").all(), table
    assert "Backprop passes" in at.success[0].value

    from nn_core.gradcheck import gradient_check
    digit = gradient_check(hidden=(6, 4), activation="tanh").first_differing_digit
    assert digit in (8, 9)                              # not the 6th, as the page once said
    assert any(f"differ from their {digit}th significant digit on" in c.value for c in at.caption)
    assert not any("6th digit" in m.value for m in at.markdown)
    assert any("float32 keeps about 7 significant digits, float64 about 16" in m.value for m in at.markdown)

    at.text_input(key="gradient_check.hidden").set_value("6,,4")
    at.button[0].click().run()
    assert not at.exception and "empty entry at position 2" in errors(at)[0]
    assert len(at.dataframe) == 0 and not at.success   # no old table and verdict under the error


@pytest.mark.parametrize("hidden,activation", [("1, 1", "relu"), ("64,64,64,64,64,64,64,64", "sigmoid"),
                                               ("1,1,1,1", "leaky_relu")])
def test_gradient_check_verdict_agrees_with_its_rows(hidden, activation):
    """Architectures where correct backprop used to be told it was wrong."""
    at = open_page("app_pages/gradient_check.py")
    at.text_input(key="gradient_check.hidden").set_value(hidden)
    at.selectbox(key="gradient_check.activation").set_value(activation)
    at.button[0].click().run()
    assert not at.exception and not errors(at)
    verdicts = at.dataframe[0].value.filter(like="(≤").to_numpy().ravel()
    assert set(verdicts) <= {"✓ pass", "– not checked"}, at.dataframe[0].value
    assert "Backprop passes" in at.success[0].value
    if hidden == "1, 1":          # b2 cannot be probed: shown as not checked, and not failed
        table = at.dataframe[0].value.set_index("parameter")
        assert table.loc["b2", "entries probed"] == 0
        assert table.loc["b2"].filter(like="finite diff. (≤").item() == "– not checked"


def test_speed_page_with_tiny_settings():
    at = open_page("app_pages/speed.py")
    at.multiselect(key="speed.batches").set_value([16])
    at.text_input(key="speed.hidden").set_value("8")
    at.number_input(key="speed.rounds").set_value(1)
    at.button[0].click().run()
    assert not at.exception and not errors(at)
    assert len(charts(at)) == 1
    rows = at.session_state["speed.result"][1]
    assert {r["impl"] for r in rows} == {"numpy", "torch"}
    assert at.dataframe[0].value["NumPy ÷ PyTorch"].iloc[0].endswith("×")
    table = at.dataframe[0].value                      # the roofline: GFLOP/s and share of the peak
    for twin in ("NumPy", "PyTorch (CPU)"):
        assert table[f"{twin} GFLOP/s"].iloc[0] > 0
        assert table[f"{twin} % of peak"].iloc[0].endswith("%")
    assert any(m.value.startswith("- Batch 16: NumPy reaches") and "PyTorch reaches" in m.value
               for m in at.markdown)
    assert any(c.value.startswith("Measured peak: ") and "GFLOP/s" in c.value for c in at.caption)
    from nn_core.threads import thread_report
    counts = server.trainer_pool().call(thread_report)       # where the twins are timed
    assert counts["blas"] == counts["torch"] == 1           # NN_THREADS' default
    note = [c.value for c in at.caption if c.value.startswith("Medians")][0]
    assert "NN_THREADS" in note and "NN_TORCH_THREADS" not in note
    assert f"NumPy's BLAS uses {counts['blas']} and PyTorch {counts['torch']} CPU thread(s)" in note
    assert "The counts are equal" in note
    assert not any("replay" in m.value for m in at.markdown)
    at.run()                                           # a rerun keeps the result
    assert len(charts(at)) == 1


def test_try_it_and_inside_with_a_run_still_training():
    """A paused run: the pages predict with a snapshot of its weights, both twins."""
    import time
    config = TrainConfig(hidden=(8,), epochs=1, batch_size=64)
    split = nn_data.make_split(nn_data.load_shipped_sample(), config.val_fraction, config.seed)
    run = Run(config, split, name="run 1 · numpy, torch · paused")
    run.step()                                         # paused, with one step allowed per twin
    run.start()
    try:
        deadline = time.monotonic() + 30
        while not all(run.records(impl) for impl in run.impls) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert run.status == "paused"
        at = open_page("app_pages/try_it.py", **{"app.runs": [run]})
        assert any("still training" in c.value for c in at.caption)
        at.segmented_control(key="try.way").set_value("Upload a picture").run()
        name = GOOD_IMAGE_CASES[0]
        at.file_uploader(key="try.picture").set_value((name, (IMAGE_DIR / name).read_bytes(), "image/png")).run()
        assert not at.exception and not errors(at)
        said = [m.value for m in at.markdown if "says" in m.value]
        assert said and "NumPy says" in said[0] and "PyTorch says" in said[0]
        at.switch_page("app_pages/inside.py").run()
        assert not at.exception and not errors(at) and len(charts(at)) == 5
    finally:
        run.stop()
        run.join(timeout=10)

"""The command line, run as a user runs it: `python -m nn_core ...` in a subprocess from the repo root.

Every user mistake must end in exit status 2 and exactly one stderr line `error: <message>`.
Small networks (--hidden 16, one or two epochs) keep the file fast.
"""
import json
import os
import re
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit_server import session_processes

from nn_core.data import PIXEL_NAMES, load_shipped_sample
from nn_core.model_io import save_npz
from tests.corpus import CSV_CASES, CSV_DIR
from tests.corpus.models import MODEL_CASES, MODELS_DIR

ROOT = Path(__file__).resolve().parent.parent
SMALL = ("--hidden", "16", "--epochs", "1", "--batch-size", "200")
STEPS_PER_EPOCH = 20  # 4,000 training rows of the shipped sample / batch 200
RECORD_FIELDS = {"impl", "step", "epoch", "samples_seen", "loss", "train_acc", "val_loss", "val_acc",
                 "samples_per_s", "step_time", "wall_time", "event", "message"}
WITHOUT_TORCH = ("import runpy, sys; sys.modules['torch'] = None; sys.argv = ['nn_core', *sys.argv[1:]]; "
                 "runpy.run_module('nn_core', run_name='__main__')")


def cli(*args, env=None, timeout=120, without_torch=False):
    """Run the CLI; NN_* variables of this shell are dropped so host limits cannot leak in."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("NN_")} | (env or {})
    command = ["-c", WITHOUT_TORCH] if without_torch else ["-m", "nn_core"]
    return subprocess.run([sys.executable, *command, *map(str, args)], cwd=ROOT, env=environ,
                          capture_output=True, text=True, timeout=timeout)


def assert_user_error(result, *expected):
    """Exit 2 and a single stderr line `error: ...` that contains every expected substring."""
    lines = result.stderr.splitlines()
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr
    for text in expected:
        assert text in lines[0], (text, lines[0])
    return lines[0]


def json_records(stdout):
    """Every stdout line parsed as strict JSON (NaN / Infinity are not JSON)."""
    def refuse(constant):
        raise ValueError(f"non-JSON constant {constant}")
    lines = stdout.splitlines()
    assert lines, "no JSON lines on stdout"
    return [json.loads(line, parse_constant=refuse) for line in lines]


def check_twin_records(records, impl, epochs):
    assert [r["step"] for r in records] == list(range(1, epochs * STEPS_PER_EPOCH + 1))
    for r in records:
        assert RECORD_FIELDS <= r.keys()
        assert r["impl"] == impl and r["loss"] > 0 and r["samples_per_s"] > 0
        if r["event"] in ("epoch_end", "done"):
            assert 0 <= r["val_acc"] <= 1 and r["val_loss"] > 0
    assert [r["event"] for r in records if r["event"]] == ["epoch_end"] * (epochs - 1) + ["done"]
    assert records[-1]["val_acc"] > 0.5


def kaggle_test_csv(path, n=40, labelled=False):
    """The first n digits of every 500 (all ten digits) of the shipped sample, Kaggle test.csv layout."""
    sample = load_shipped_sample()
    rows = np.arange(n) * (len(sample) // n)
    frame = pd.DataFrame(sample.images[rows], columns=PIXEL_NAMES)
    if labelled:
        frame.insert(0, "label", sample.labels[rows])
    frame.to_csv(path, index=False)
    return path


# ---- train -------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """Both twins trained and saved in both formats, with the outputs of the two train commands."""
    folder = tmp_path_factory.mktemp("models")
    as_json = cli("train", "--impl", "both", "--json", *SMALL, "--epochs", "2", "--save", folder / "m.npz")
    as_table = cli("train", "--impl", "both", *SMALL, "--save", folder / "m.pt")
    for result in (as_json, as_table):
        assert result.returncode == 0, result.stderr
    return {"json": as_json, "table": as_table, "folder": folder}


def test_train_json_both_twins(models):
    result = models["json"]
    records = json_records(result.stdout)
    assert {r["impl"] for r in records} == {"numpy", "torch"}
    for impl in ("numpy", "torch"):
        check_twin_records([r for r in records if r["impl"] == impl], impl, epochs=2)
    assert "saved the numpy twin" in result.stderr and "saved the torch twin" in result.stderr
    assert "error" not in result.stderr


def test_train_json_numpy_only():
    result = cli("train", "--impl", "numpy", "--json", *SMALL)
    assert result.returncode == 0, result.stderr
    check_twin_records(json_records(result.stdout), "numpy", epochs=1)


def test_train_summary_table_and_save(models):
    result, folder = models["table"], models["folder"]
    table = [line for line in result.stdout.splitlines() if line.strip()]
    assert table[0].split() == ["twin", "outcome", "steps", "val_acc", "val_loss", "samples/s",
                                "wall", "time"]
    assert set(table[1].strip()) == {"─"}                        # rich's rule under the header
    for impl, line in zip(("numpy", "torch"), table[2:4]):
        assert line.split()[:3] == [impl, "done", str(STEPS_PER_EPOCH)]
    for name in ("m-numpy.npz", "m-torch.npz", "m-numpy.pt", "m-torch.pt"):
        assert (folder / name).stat().st_size > 0, name
    assert "saved the torch twin to" in result.stdout
    # Progress (not a terminal here: one line per epoch end) went to stderr, not stdout.
    assert f"numpy epoch 1/1 step {STEPS_PER_EPOCH} loss" in result.stderr and "val_acc" in result.stderr


def test_train_no_hidden_layer_single_save(tmp_path):
    result = cli("train", "--impl", "numpy", "--hidden", "", "--epochs", "1", "--save", tmp_path / "r.npz")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "r.npz").exists() and not (tmp_path / "r-numpy.npz").exists()


DIVERGED = re.compile(r"error: the loss became (NaN/inf|\S+ \(it exploded\)) at step (\d+); "
                      r"lower the learning rate \(it is 50\)\.")


@pytest.mark.parametrize("args", [(), ("--impl", "numpy", "--hidden", "16")], ids=["128,64-both", "16-numpy"])
def test_divergence_exits_2_with_the_nan_message(args):
    result = cli("train", "--optimizer", "sgd", "--lr", "50", "--epochs", "1", "--json", *args)
    match = DIVERGED.fullmatch(assert_user_error(result))
    assert match and int(match[2]) < 20, result.stderr
    records = json_records(result.stdout)  # what was recorded is printed before the error
    assert {r["event"] for r in records if r["event"]} == {"diverged"}
    assert {r["step"] for r in records if r["event"]} == {int(match[2])}


def test_wall_time_limit_exits_2():
    result = cli("train", "--impl", "numpy", *SMALL, "--json", env={"NN_MAX_SECONDS": "0.000001"})
    assert_user_error(result, "wall-time cap", "NN_MAX_SECONDS")
    assert json_records(result.stdout)[-1]["event"] == "limit"


def test_ctrl_c_at_a_terminal_leaves_no_trainer_process_behind():
    """A terminal's Ctrl-C reaches the whole process group: the CLI and its trainer processes."""
    process = subprocess.Popen([sys.executable, "-m", "nn_core", "train", "--json", *SMALL,
                                "--epochs", "100"], cwd=ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, bufsize=0, start_new_session=True)
    try:
        first = json.loads(process.stdout.readline())
        workers = [pid for pid in session_processes(process.pid) if pid != process.pid]
        os.killpg(process.pid, signal.SIGINT)
        stdout, stderr = (out.decode() for out in process.communicate(timeout=60))
    finally:
        process.kill()
    assert first["step"] == 1 and len(workers) >= 3            # the forkserver and two workers
    assert process.returncode == 130, stderr
    assert stderr.splitlines() == ["stopped (Ctrl-C); nothing was saved."]   # no worker traceback
    deadline = time.monotonic() + 5
    while session_processes(process.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert session_processes(process.pid) == []


def test_ctrl_c_stops_the_run_with_130():
    # Unbuffered bytes: communicate() reads the pipe itself, so nothing may sit in a reader's buffer.
    process = subprocess.Popen([sys.executable, "-m", "nn_core", "train", "--json", *SMALL,
                                "--epochs", "100"], cwd=ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, bufsize=0)
    try:
        first = json.loads(process.stdout.readline())
        process.send_signal(signal.SIGINT)
        stdout, stderr = (out.decode() for out in process.communicate(timeout=60))
    finally:
        process.kill()
    assert first["step"] == 1
    assert process.returncode == 130, stderr
    assert stderr.splitlines() == ["stopped (Ctrl-C); nothing was saved."]
    records = json_records(stdout)  # every line whole, and each twin's last record says "stopped"
    for impl in ("numpy", "torch"):
        last = [r for r in records if r["impl"] == impl][-1]
        assert last["event"] == "stopped" and last["step"] < 100 * STEPS_PER_EPOCH


def test_without_torch_both_trains_numpy_with_a_warning():
    result = cli("train", "--json", *SMALL, without_torch=True)
    assert result.returncode == 0, result.stderr
    assert {r["impl"] for r in json_records(result.stdout)} == {"numpy"}
    assert result.stderr.startswith("warning: PyTorch is not installed")


def test_without_torch_impl_torch_is_an_error():
    assert_user_error(cli("train", "--impl", "torch", *SMALL, without_torch=True),
                      "PyTorch is not installed")


# ---- predict -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("model", ["m-numpy.npz", "m-torch.npz", "m-numpy.pt", "m-torch.pt"])
def test_predict_kaggle_test_csv(models, model, tmp_path):
    test_csv = kaggle_test_csv(tmp_path / "test.csv")
    out = tmp_path / "submission.csv"
    result = cli("predict", "--model", models["folder"] / model, "--data", test_csv, "--out", out)
    assert result.returncode == 0, result.stderr
    assert "wrote 40 rows" in result.stdout and "accuracy" not in result.stdout
    submission = pd.read_csv(out)
    assert list(submission.columns) == ["ImageId", "Label"]
    assert submission["ImageId"].tolist() == list(range(1, 41))
    assert submission["Label"].between(0, 9).all()
    assert submission["Label"].nunique() >= 5  # a trained model, not a constant


def test_twins_predict_alike(models, tmp_path):
    """A model trained by the torch twin and one trained by the NumPy twin label the digits alike."""
    test_csv = kaggle_test_csv(tmp_path / "test.csv", n=200)
    labels = {}
    for model in ("m-numpy.npz", "m-torch.npz"):  # the two twins of one run
        out = tmp_path / f"{model}.csv"
        assert cli("predict", "--model", models["folder"] / model, "--data", test_csv,
                   "--out", out).returncode == 0
        labels[model] = pd.read_csv(out)["Label"].to_numpy()
    assert (labels["m-numpy.npz"] == labels["m-torch.npz"]).mean() >= 0.98


@pytest.mark.parametrize("kind", [".npz", ".pt"])
def test_a_float64_model_predicts_what_it_would_on_float64_pixels(kind, tmp_path):
    """predict scales pixels to float32 for every model; a float64 model must label alike."""
    from nn_core.config import TrainConfig
    from nn_core.model_io import save_model
    from nn_core.numpy_mlp import NumpyMLP
    from nn_core.twins import initial_params

    config = TrainConfig(hidden=(32,), dtype="float64", init="he", seed=3)
    params = initial_params(config)
    model = save_model(tmp_path / f"m64{kind}", params, "relu")
    test_csv = kaggle_test_csv(tmp_path / "test.csv", n=200)
    out = tmp_path / "submission.csv"
    assert cli("predict", "--model", model, "--data", test_csv, "--out", out).returncode == 0
    pixels = pd.read_csv(test_csv).to_numpy(dtype=np.float64) / 255.0
    expected = NumpyMLP(params, "relu").predict_proba(pixels).argmax(axis=1)
    assert (pd.read_csv(out)["Label"].to_numpy() == expected).all()


def test_predict_labelled_csv_prints_accuracy(models, tmp_path):
    test_csv = kaggle_test_csv(tmp_path / "labelled.csv", labelled=True)
    out = tmp_path / "deep" / "folder" / "submission.csv"  # missing folders are created
    result = cli("predict", "--model", models["folder"] / "m-torch.npz", "--data", test_csv, "--out", out)
    assert result.returncode == 0, result.stderr
    accuracy = float(result.stdout.split("accuracy on the labels in labelled.csv: ")[1].split()[0])
    assert accuracy > 0.5
    assert len(pd.read_csv(out)) == 40


def _random_bytes(path):
    path.write_bytes(np.random.default_rng(0).bytes(2000))


def _empty(path):
    path.write_bytes(b"")


def _pickled_object_array(path):
    np.savez(path, activation=np.array("relu"), W0=np.array([{"code": "runs"}], dtype=object),
             b0=np.zeros(10, dtype=np.float32))


def _torch_needs_pickle(path):
    torch = pytest.importorskip("torch")
    torch.save(torch.nn.Linear(784, 10), path)  # a whole module: only loadable with pickle


def _other_architecture(path):
    rng = np.random.default_rng(0)
    save_npz(path, [(rng.random((100, 16), dtype=np.float32), np.zeros(16, np.float32)),
                    (rng.random((16, 10), dtype=np.float32), np.zeros(10, np.float32))], "relu")


def _diverged(path):
    W = np.full((784, 10), np.nan, dtype=np.float32)
    save_npz(path, [(W, np.zeros(10, np.float32))], "relu")


BAD_MODELS = [
    ("random_bytes.npz", _random_bytes, "is not a model file"),
    ("empty.npz", _empty, "is empty"),
    ("pickled.npz", _pickled_object_array, "holds Python objects (pickle)"),
    ("module.pt", _torch_needs_pickle, "needs pickle to load"),
    ("other_architecture.npz", _other_architecture, "do not chain from 784 inputs"),
    ("diverged.npz", _diverged, "non-numbers"),
]


@pytest.mark.parametrize("name, make, expected", BAD_MODELS, ids=[case[0] for case in BAD_MODELS])
def test_predict_refuses_bad_model_files(tmp_path, name, make, expected):
    make(tmp_path / name)
    test_csv = kaggle_test_csv(tmp_path / "test.csv", n=10)
    out = tmp_path / "submission.csv"
    assert_user_error(cli("predict", "--model", tmp_path / name, "--data", test_csv, "--out", out),
                      name, expected)
    assert not out.exists()


def test_predict_bad_paths(models, tmp_path):
    model = models["folder"] / "m-numpy.npz"
    test_csv = kaggle_test_csv(tmp_path / "test.csv", n=10)
    assert_user_error(cli("predict", "--model", tmp_path / "nope.npz", "--data", test_csv,
                          "--out", tmp_path / "s.csv"), "cannot read model file", "nope.npz")
    assert_user_error(cli("predict", "--model", model, "--data", tmp_path / "nope.csv",
                          "--out", tmp_path / "s.csv"), "nope.csv does not exist")
    assert_user_error(cli("predict", "--model", model, "--data", test_csv, "--out", tmp_path),
                      "--out", "is a folder")
    assert_user_error(cli("predict", "--model", model, "--data", test_csv,
                          "--out", test_csv / "s.csv"), "--out", "is a file, not a folder")


# ---- gradcheck and bench -----------------------------------------------------------------------------
def test_gradcheck_passes():
    result = cli("gradcheck", "--hidden", "16,8", "--activation", "tanh", "--l2", "0.01")
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[-1] == "PASS"
    assert len([line for line in lines if line.split()[1:2] in (["W"], ["b"])]) == 6  # 3 layers x W, b


def test_bench_tiny():
    result = cli("bench", "--rounds", "1", "--steps", "5", "--batch-sizes", "32,64", "--hidden", "16")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    ratios = lines[lines.index("batch  numpy/torch") + 1:]
    assert [line.split()[0] for line in ratios] == ["32", "64"]
    assert all(float(line.split()[1]) > 0 for line in ratios)
    assert sum(line.split()[1:2] in (["numpy"], ["torch"]) for line in lines) == 4


def test_bench_prints_the_roofline_columns():
    result = cli("bench", "--rounds", "1", "--steps", "5", "--batch-sizes", "32", "--hidden", "16")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "GFLOP/s" in lines[0] and "% of peak" in lines[0]
    for line in lines[1:3]:                                  # numpy, torch: a number and a percentage
        gflops, share = line.split()[4:6]
        assert float(gflops) > 0 and share.endswith("%")
    assert any(line.startswith("measured peak: ") and "GFLOP/s" in line for line in lines)
    assert any(line.startswith("Batch 32: NumPy reaches") and "PyTorch reaches" in line for line in lines)


# ---- one-line errors ---------------------------------------------------------------------------------
BAD_SETTINGS = [
    (("--hidden", "128,,64"), "empty entry at position 2"),
    (("--hidden", "-5"), "hidden layer size -5 must be at least 1"),
    (("--hidden", "abc"), "'abc' is not a whole number"),
    (("--hidden", "100000"), "NN_MAX_WIDTH"),
    (("--lr", "0"), "learning rate"),
    (("--lr", "-1"), "learning rate"),
    (("--lr", "1e9"), "learning rate"),
    (("--lr", "fast"), "argument --lr: invalid float value"),
    (("--batch-size", "-1"), "batch size"),
    (("--epochs", "0"), "epochs must be at least 1"),
    (("--epochs", "100000"), "NN_MAX_EPOCHS"),
    (("--activation", "foo"), "argument --activation: invalid choice: 'foo'"),
    (("--dropout", "1"), "dropout"),
    (("--val-fraction", "0"), "validation fraction"),
    (("--impl", "jax"), "argument --impl: invalid choice"),
    (("--bogus",), "unrecognized arguments: --bogus"),
    (("--data", "no/such/file.csv"), "does not exist"),
    (("--data", "Data"), "is a folder, not a CSV file"),
    (("--save", "model.txt"), "must end in .npz or .pt"),
    (("--save", "Data"), "--save Data is a folder"),
]
USAGE_ERRORS = [
    ((), "choose a command"),
    (("fly",), "invalid choice: 'fly'"),
    (("predict", "--model", "m.npz"), "the following arguments are required: --data, --out"),
    (("gradcheck", "--activation", "swish"), "invalid choice: 'swish'"),
    (("bench", "--batch-sizes", "64,x"), "batch sizes '64,x'"),
    (("bench", "--rounds", "0"), "--rounds and --steps must be at least 1"),
]
# A Kaggle test.csv for `predict` cases: the good file of the CSV corpus in test.csv's layout.
CORPUS_TEST_CSV = CSV_DIR / "good_test_layout.csv"
# Each case's command line, keyed by its test id.
ERROR_COMMANDS = ({name: ("train", *SMALL, "--data", CSV_DIR / name) for name, _, _ in CSV_CASES}
                  | {"model " + name: ("predict", "--model", MODELS_DIR / name, "--data", CORPUS_TEST_CSV,
                                       "--out", os.devnull) for name, _ in MODEL_CASES}
                  | {" ".join(args): ("train", *args) for args, _ in BAD_SETTINGS}
                  | {"usage " + " ".join(args): args for args, _ in USAGE_ERRORS})


@pytest.fixture(scope="module")
def error_run():
    """error_run(id) -> the finished process of that case. All the cases (many short processes) are
    started together up front and run side by side; each test waits only for its own."""
    pool = ThreadPoolExecutor(max_workers=os.cpu_count() or 2)
    futures = {key: pool.submit(cli, *args) for key, args in ERROR_COMMANDS.items()}
    yield lambda key: futures[key].result()
    pool.shutdown(cancel_futures=True)


@pytest.mark.parametrize("filename, expected, stage", CSV_CASES, ids=[case[0] for case in CSV_CASES])
def test_train_refuses_bad_csv(error_run, filename, expected, stage):
    assert_user_error(error_run(filename), expected)


@pytest.mark.parametrize("filename, expected", MODEL_CASES, ids=[case[0] for case in MODEL_CASES])
def test_predict_refuses_every_bad_model_in_the_corpus(error_run, filename, expected):
    assert_user_error(error_run("model " + filename), expected)


@pytest.mark.parametrize("args, expected", BAD_SETTINGS, ids=[" ".join(a) for a, _ in BAD_SETTINGS])
def test_train_refuses_bad_settings(error_run, args, expected):
    assert_user_error(error_run(" ".join(args)), expected)


@pytest.mark.parametrize("args, expected", USAGE_ERRORS,
                         ids=["usage " + " ".join(a) for a, _ in USAGE_ERRORS])
def test_usage_errors_are_one_line(error_run, args, expected):
    assert_user_error(error_run("usage " + " ".join(args)), expected)


def test_save_to_a_folder_is_an_error(tmp_path):
    (tmp_path / "m-numpy.npz").mkdir()
    assert_user_error(cli("train", *SMALL, "--save", tmp_path / "m.npz"), "is a folder")
    assert_user_error(cli("train", "--impl", "numpy", *SMALL, "--save", tmp_path), "is a folder")


def test_row_limit_from_the_environment():
    assert_user_error(cli("train", *SMALL, env={"NN_MAX_ROWS": "100"}), "NN_MAX_ROWS")
    assert_user_error(cli("train", *SMALL, env={"NN_MAX_ROWS": "many"}), "NN_MAX_ROWS='many'")

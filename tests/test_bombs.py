"""Files that unpack (or claim to unpack) to gigabytes: refused in one sentence, in the CLI and in
the app, with the process's peak memory measured and kept under PEAK_LIMIT_MB.

The bombs are made at test time by tests/corpus/bombs.py (about a second; nothing big is committed).
The CLI runs each in its own process, which writes its peak resident memory as it exits; the app check
runs all of them through AppTest in one process of its own (tests/bomb_app_check.py), which resets
its peak before each upload.
"""
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from corpus import CSV_DIR
from corpus.bombs import BOMBS, make_bombs
from nn_core.data import load_csv
from nn_core.errors import DataError

ROOT = Path(__file__).resolve().parent.parent
PEAK_LIMIT_MB = 600
CLI_BOMBS = [(name, kind, expected) for name, _, kind, expected in BOMBS if kind != "picture"]


@pytest.fixture(scope="module")
def bombs(tmp_path_factory):
    return make_bombs(tmp_path_factory.mktemp("bombs"))


# `python -m nn_core`, writing its peak resident memory (VmHWM, kB) to $PEAK_FILE when it exits.
# Measured inside the process: a forked child's ru_maxrss would count the pytest process it was
# copied from.
MEASURED_CLI = ("import atexit, os, runpy, sys\n"
                "def peak():\n"
                "    status = open('/proc/self/status').read().split('VmHWM:')[1]\n"
                "    open(os.environ['PEAK_FILE'], 'w').write(status.split()[0])\n"
                "atexit.register(peak)\n"
                "sys.argv = ['nn_core', *sys.argv[1:]]\n"
                "runpy.run_module('nn_core', run_name='__main__')\n")


def run_measured(args, folder: Path) -> tuple[int, str, float]:
    """Run `python -m nn_core ARGS` without this shell's NN_* settings: (exit status, stderr, peak
    resident memory of that process in MB)."""
    peak_file = folder / "peak_kb"
    env = {k: v for k, v in os.environ.items() if not k.startswith("NN_")} | {"PEAK_FILE": str(peak_file)}
    done = subprocess.run([sys.executable, "-c", MEASURED_CLI, *map(str, args)], cwd=ROOT, env=env,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=120)
    return done.returncode, done.stderr, int(peak_file.read_text()) / 1024


@pytest.mark.parametrize("name, kind, expected", CLI_BOMBS, ids=[b[0] for b in CLI_BOMBS])
def test_cli_refuses_the_bomb_in_one_line_with_little_memory(bombs, tmp_path, name, kind, expected):
    if kind == "csv":
        args = ("train", "--impl", "numpy", "--hidden", "16", "--epochs", "1", "--data", bombs[name])
    else:
        args = ("predict", "--model", bombs[name], "--data", CSV_DIR / "good_test_layout.csv",
                "--out", os.devnull)
    status, stderr, peak_mb = run_measured(args, tmp_path)
    lines = stderr.splitlines()
    assert status == 2 and len(lines) == 1 and lines[0].startswith("error: "), (status, stderr)
    assert expected in lines[0] and "Traceback" not in stderr
    print(f"{name}: CLI peak {peak_mb:.0f} MB")
    assert peak_mb < PEAK_LIMIT_MB, (name, peak_mb)


def test_a_line_of_3_million_fields_is_refused_in_well_under_a_second_of_cpu(bombs):
    started = time.process_time()
    with pytest.raises(DataError, match="line 2: is longer than any line of a Kaggle digit file"):
        load_csv(bombs["wide_line.csv"], max_rows=60_000)
    cpu = time.process_time() - started
    print(f"3,000,000-field line refused after {cpu:.3f} s of CPU")
    assert cpu < 1.0


@pytest.fixture(scope="module")
def app_results(bombs):
    folder = next(iter(bombs.values())).parent
    env = {k: v for k, v in os.environ.items() if not k.startswith("NN_") or k == "NN_DB"}   # default caps, test store
    done = subprocess.run([sys.executable, ROOT / "tests" / "bomb_app_check.py", folder], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout.splitlines()[-1])


@pytest.mark.parametrize("name, kind, expected", [(b[0], b[2], b[3]) for b in BOMBS], ids=[b[0] for b in BOMBS])
def test_app_refuses_the_bomb_with_st_error_and_keeps_everything(app_results, name, kind, expected):
    result = app_results[name]
    assert not result["exceptions"], result
    assert len(result["errors"]) == 1 and expected in result["errors"][0], result
    assert result["dataset_kept"] and result["models_kept"], result
    print(f"{name}: app peak {result['peak_mb']:.0f} MB (resident before the upload: {result['before_mb']:.0f} MB)")
    assert result["peak_mb"] < PEAK_LIMIT_MB, result


def test_app_still_predicts_after_every_bomb(app_results):
    after = app_results["page still works"]
    # The uploaded valid.npz predicts, under its own name (an uploaded model is not called NumPy).
    assert not after["errors"] and after["says"] and "Uploaded .npz model says" in after["says"][0], after

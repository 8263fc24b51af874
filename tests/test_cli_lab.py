"""The lab's commands, run as a user runs them: `python -m nn_core compare ...` and `lr-find`."""

import math

import pytest

from nn_core.lr_find import RULE
from test_cli import RECORD_FIELDS, SMALL, assert_user_error, cli, json_records


def test_compare_json_records_carry_the_run_and_start_from_the_same_point():
    result = cli("compare", "--vary", "optimizer=sgd,adam,rmsprop", *SMALL, "--json")
    assert result.returncode == 0, result.stderr
    records = json_records(result.stdout)
    runs = ["optimizer=sgd", "optimizer=adam", "optimizer=rmsprop"]
    assert {r["run"] for r in records} == set(runs)
    assert all(RECORD_FIELDS <= set(r) and r["impl"] == "numpy" for r in records)
    # The check: same seed and architecture -> the same weights and the same first batch.
    first = [next(r["loss"] for r in records if r["run"] == run and r["step"] == 1) for run in runs]
    assert max(first) - min(first) <= 1e-6, first
    assert sorted(r["run"] for r in records if r["event"] == "done") == sorted(runs)
    # stdout is only JSON; the table and the verdict go to stderr, one row per run.
    assert "only optimizer differs" in result.stderr
    for run in runs:
        assert sum(line.split()[:3] == [run, "numpy", "done"] for line in result.stderr.splitlines()) == 1
    assert "reached the best final validation accuracy" in result.stderr


def test_compare_both_twins_and_the_table_on_stdout():
    result = cli("compare", "--vary", "lr=0.05,0.2", *SMALL, "--impl", "both")
    assert result.returncode == 0, result.stderr
    rows = [line.split() for line in result.stdout.splitlines()
            if line.lstrip().startswith("lr=") and line.split()[1] in ("numpy", "torch")]
    assert sorted((row[0], row[1]) for row in rows) == [("lr=0.05", "numpy"), ("lr=0.05", "torch"),
                                                       ("lr=0.2", "numpy"), ("lr=0.2", "torch")]
    step1 = {float(row[3]) for row in rows}       # every run and both twins: one step-1 loss
    assert max(step1) - min(step1) <= 1e-6
    assert "numpy twin: " in result.stdout and "torch twin: " in result.stdout


def test_compare_marks_a_diverged_run():
    result = cli("compare", "--vary", "lr=0.05,50", "--hidden", "16", "--epochs", "1",
                 "--batch-size", "200", "--optimizer", "sgd")
    assert result.returncode == 0, result.stderr
    assert "lr=50 diverged (the loss blew up)" in result.stdout
    row = next(line.split() for line in result.stdout.splitlines() if line.split()[:2] == ["lr=50", "numpy"])
    assert row[2] == "diverged" and row[-1] == "yes"


@pytest.mark.parametrize("args, expected", [
    (("--vary", "momentum=0.5,0.9"), "cannot vary 'momentum'; choose one of optimizer, lr"),
    (("--vary", "lr=0.1"), "give 2 to 6 values of lr to compare"),
    (("--vary", "optimizer"), "needs the form KEY=V1,V2"),
    (("--vary", "optimizer=sgd,adamw"), "unknown optimizer 'adamw'"),
    (("--vary", "lr=0.1,abc"), "lr value 'abc' is not a valid lr"),
    ((), "the following arguments are required: --vary"),
])
def test_compare_bad_experiments_are_one_line(args, expected):
    assert_user_error(cli("compare", *args, *SMALL), expected)


def test_lr_find_json_probes_then_a_suggestion():
    result = cli("lr-find", "--optimizer", "sgd", "--json")
    assert result.returncode == 0, result.stderr
    records = json_records(result.stdout)
    probes, final = records[:-1], records[-1]
    assert all(set(p) == {"step", "lr", "loss", "smoothed"} for p in probes)
    assert probes[0]["lr"] == pytest.approx(1e-6)
    assert all(b["lr"] > a["lr"] for a, b in zip(probes, probes[1:]))
    assert len(probes) < 200                                           # of 200 planned
    assert final["stopped_early"] and probes[-1]["lr"] < 10             # plain SGD blows up first
    assert 1e-6 < final["suggested_lr"] < probes[-1]["lr"]
    assert f"suggested learning rate: {final['suggested_lr']:.3g}." in final["message"]


def test_lr_find_summary_and_torch_twin():
    result = cli("lr-find", "--hidden", "32", "--impl", "torch")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["step", "lr", "loss", "smoothed"]
    assert len(lines) <= 16 and "suggested learning rate" in lines[-2]
    assert lines[-1] == RULE
    assert not math.isnan(float(lines[1].split()[1]))


@pytest.mark.parametrize("args, expected", [
    (("--impl", "both"), "argument --impl: invalid choice: 'both'"),
    (("--epochs", "3"), "unrecognized arguments: --epochs 3"),
    (("--lr", "0"), "learning rate 0 is outside (0, 100]"),
])
def test_lr_find_bad_flags_are_one_line(args, expected):
    assert_user_error(cli("lr-find", *args), expected)

"""The run store (nn_core.store): schema version, what a run keeps, pruning, and files it cannot read."""

import json
import sqlite3

import numpy as np
import pytest

from nn_core.config import TrainConfig
from nn_core.data import Dataset
from nn_core.store import (DAY, INTERRUPTED, INTERRUPTED_MESSAGE, KEEP_UPLOADS, MIGRATIONS, SCHEMA_VERSION,
                           DatasetRef, RunStore, content_hash, open_store)
from nn_core.trainer import Record

SHIPPED = DatasetRef("MNIST sample (5,000 digits, shipped)")
CONFIG = TrainConfig(hidden=(4,), epochs=1)


def record(impl: str, step: int, **extra) -> Record:
    return Record(impl, step, 1, 64 * step, 2.3 / step, 0.1 * step, 1000.0, 0.001, 0.01 * step, **extra)


def weights(seed: int):
    rng = np.random.default_rng(seed)
    return [(rng.normal(size=(784, 4)).astype(np.float32), rng.normal(size=4).astype(np.float32)),
            (rng.normal(size=(4, 10)).astype(np.float32), rng.normal(size=10).astype(np.float32))]


def finished_run(store: RunStore, student="alice", number=1, finished_at=None) -> int:
    run_id = store.add_run(student, number, f"run {number}", ("numpy", "torch"), CONFIG, SHIPPED, 4000)
    records = {impl: [record(impl, 1, val_loss=2.0, val_acc=0.3, grad_norm=[0.5, 0.25]),
                      record(impl, 2, event="done", message="finished 1 epochs (2 steps).")]
               for impl in ("numpy", "torch")}
    store.finish_run(run_id, "done", {"numpy": "finished", "torch": "finished"}, {}, records,
                     {"numpy": weights(1), "torch": weights(2)}, "relu", finished_at=finished_at)
    return run_id


@pytest.fixture
def path(tmp_path):
    return tmp_path / "store" / "runs.sqlite3"       # the folder does not exist yet


def test_a_new_store_has_the_schema_version_and_its_folder(path):
    store, problem = open_store(path)
    assert problem is None and path.is_file()
    assert store.schema_version == SCHEMA_VERSION == 2
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"runs", "twins", "uploads", "students", "experiments"} <= tables


def test_a_version_1_file_is_brought_to_version_2_in_place_and_keeps_every_run(path):
    path.parent.mkdir(parents=True)
    with sqlite3.connect(path) as db:                 # as the previous version of the app left it
        db.executescript(MIGRATIONS[1] + "PRAGMA user_version = 1;")
        db.execute("INSERT INTO runs (student, number, name, impls, config, dataset, n_train, status,"
                   " started_at) VALUES ('alice', 1, 'run 1', '[\"numpy\"]', ?, ?, 4000, 'running', 5.0)",
                   (json.dumps(CONFIG.to_dict()), SHIPPED.name))
    store, problem = open_store(path)
    assert problem is None and store.schema_version == 2
    assert not [p for p in path.parent.iterdir() if ".unreadable-" in p.name]     # nothing moved aside
    (row,) = store.runs_of("alice")
    assert (row.name, row.config, row.experiment_id, row.label) == ("run 1", CONFIG, None, None)
    assert store.mark_interrupted() == 1              # and it works as any run
    later = finished_run(store, number=2)
    assert [r.id for r in store.runs_of("alice")] == [row.id, later]
    store.close()
    assert RunStore(path).schema_version == 2          # opened again: nothing to do


def test_two_servers_opening_one_version_1_file_at_once_both_find_it_migrated(path):
    from concurrent.futures import ThreadPoolExecutor

    path.parent.mkdir(parents=True)
    with sqlite3.connect(path) as db:
        db.executescript(MIGRATIONS[1] + "PRAGMA user_version = 1;")
    with ThreadPoolExecutor(4) as pool:                # (replicas of the app share the default file)
        opened = list(pool.map(lambda _: open_store(path), range(4)))
    assert [problem for _, problem in opened] == [None] * 4
    assert {store.schema_version for store, _ in opened} == {2}


def test_an_experiment_and_its_runs_round_trip(path):
    store = RunStore(path)
    spec = {"base": CONFIG.to_dict(), "key": "lr", "values": ["0.01", "0.1"],
            "labels": ["lr=0.01", "lr=0.1"], "impl": "numpy"}
    experiment = store.add_experiment("alice", 1, spec)
    ids = [store.add_run("alice", 1, f"experiment 1 · {label}", ("numpy",), CONFIG, SHIPPED, 4000,
                         experiment_id=experiment, label=label) for label in spec["labels"]]
    train = finished_run(store, number=1)
    store.close()

    store = RunStore(path)
    (row,) = store.experiments_of("alice")
    assert (row.id, row.number, row.spec) == (experiment, 1, spec)
    rows = store.runs_of("alice")
    assert [(r.id, r.experiment_id, r.label) for r in rows] == [
        (ids[0], experiment, "lr=0.01"), (ids[1], experiment, "lr=0.1"), (train, None, None)]
    assert store.experiments_of("bob") == []


def test_a_finished_run_comes_back_whole_after_reopening(path):
    store = RunStore(path)
    run_id = finished_run(store)
    store.close()

    store = RunStore(path)                 # as after a server restart
    (row,) = store.runs_of("alice")
    assert (row.id, row.name, row.status, row.impls) == (run_id, "run 1", "done", ("numpy", "torch"))
    assert row.config == CONFIG and row.dataset == SHIPPED and row.n_train == 4000
    assert row.messages == {"numpy": "finished", "torch": "finished"} and row.finished_at is not None
    records = store.records_of(run_id)
    assert [r.step for r in records["torch"]] == [1, 2]
    assert records["numpy"][0].grad_norm == [0.5, 0.25] and records["numpy"][1].event == "done"
    assert records["numpy"][0].loss == 2.3           # floats round-trip exactly
    saved = store.weights_of(run_id)
    assert saved["torch"].activation == "relu"
    for (W, b), (W0, b0) in zip(saved["torch"].params, weights(2)):
        assert np.array_equal(W, W0) and np.array_equal(b, b0) and W.dtype == np.float32
    assert store.runs_of("bob") == []                # another student's history is their own


def test_a_restart_marks_runs_that_were_training_as_interrupted(path):
    store = RunStore(path)
    done = finished_run(store)
    training = store.add_run("alice", 2, "run 2", ("numpy",), CONFIG, SHIPPED, 4000)
    store.close()

    store = RunStore(path)
    assert store.mark_interrupted() == 1
    rows = {row.id: row for row in store.runs_of("alice")}
    assert rows[done].status == "done"                # every finished run is kept as it was
    assert rows[training].status == INTERRUPTED
    assert rows[training].messages == {"numpy": INTERRUPTED_MESSAGE}
    assert "interrupted by a server restart" in INTERRUPTED_MESSAGE


def test_pruning_by_age_and_by_count_per_student(path):
    store = RunStore(path)
    now = 1_000 * DAY
    old = finished_run(store, "alice", 1, finished_at=now - 31 * DAY)
    alice = [finished_run(store, "alice", n, finished_at=now - DAY) for n in (2, 3, 4)]
    bob = [finished_run(store, "bob", n, finished_at=now - DAY) for n in (1, 2)]
    training = store.add_run("alice", 5, "run 5", ("numpy",), CONFIG, SHIPPED, 4000)

    gone = store.prune(keep_days=30, keep_runs=2, now=now)

    assert gone == sorted([old, alice[0]])            # too old; then over alice's count of 2
    assert [r.id for r in store.runs_of("alice")] == [*alice[1:], training]   # never a training run
    assert [r.id for r in store.runs_of("bob")] == bob                        # bob's count is his own
    assert store.records_of(old) == {} and store.weights_of(old) == {}        # its twins went too


def test_pruning_keeps_train_runs_and_whole_experiments_apart(path):
    store = RunStore(path)
    now = 1_000 * DAY
    train = [finished_run(store, "alice", n, finished_at=now - DAY) for n in (1, 2)]
    experiments = []
    for number in (1, 2, 3):
        experiment = store.add_experiment("alice", number, {"number": number}, started_at=now - DAY)
        runs = [store.add_run("alice", number, "e", ("numpy",), CONFIG, SHIPPED, 4000,
                              experiment_id=experiment, label=f"lr={v}") for v in (1, 2)]
        for run_id in runs:
            store.finish_run(run_id, "done", {}, {}, {"numpy": [record("numpy", 1)]}, {}, "relu",
                             finished_at=now - DAY)
        experiments.append((experiment, runs))

    gone = store.prune(keep_days=30, keep_runs=2, now=now)

    assert gone == sorted(experiments[0][1])          # the oldest experiment, whole; no Train run
    assert [e.id for e in store.experiments_of("alice")] == [e for e, _ in experiments[1:]]
    assert [r.id for r in store.runs_of("alice") if r.experiment_id is None] == train


def test_a_version_1_file_without_its_tables_is_kept_aside(path):
    path.parent.mkdir(parents=True)
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE notes (text TEXT)")
        db.execute("PRAGMA user_version = 1")
    store, problem = open_store(path)
    assert "could not be brought from version 1 to 2" in problem and "history starts empty" in problem
    assert store.schema_version == SCHEMA_VERSION and store.runs_of("alice") == []


def test_uploads_are_remembered_by_content_hash_newest_few(path):
    store = RunStore(path)
    rng = np.random.default_rng(0)
    datasets = [Dataset(rng.integers(0, 256, (20, 784), dtype=np.uint8), np.arange(20) % 10, f"mine{i}.csv")
                for i in range(KEEP_UPLOADS + 1)]
    for i, dataset in enumerate(datasets):
        store.remember_upload("alice", content_hash(bytes([i])), dataset)
    kept = store.uploads_of("alice")
    assert [ref.name for ref in kept] == [d.name for d in reversed(datasets)][:KEEP_UPLOADS]
    back = store.upload("alice", kept[0].hash)
    assert back.name == datasets[-1].name and np.array_equal(back.images, datasets[-1].images)
    assert np.array_equal(back.labels, datasets[-1].labels)
    assert store.upload("bob", kept[0].hash) is None            # only for the student who uploaded it
    store.set_dataset("alice", kept[0])
    assert store.dataset_of("alice") == kept[0] and store.dataset_of("bob") is None


@pytest.mark.parametrize("content, reason", [
    (b"this is not a database, it is a text file" * 100, "file is not a database"),
    (None, "its schema version is 99"),
])
def test_an_unreadable_store_is_kept_aside_and_a_new_one_starts_with_one_sentence(path, content, reason):
    path.parent.mkdir(parents=True)
    if content is None:                               # a store from a newer version of the app
        with sqlite3.connect(path) as db:
            db.execute("CREATE TABLE runs (id INTEGER)")
            db.execute("PRAGMA user_version = 99")
        content = path.read_bytes()
    else:
        path.write_bytes(content)

    store, problem = open_store(path)

    assert reason in problem and "history starts empty" in problem and "\n" not in problem
    aside = [p for p in path.parent.iterdir() if ".unreadable-" in p.name]
    assert len(aside) == 1 and aside[0].read_bytes() == content and str(aside[0]) in problem
    assert store.runs_of("alice") == [] and store.schema_version == SCHEMA_VERSION
    finished_run(store)                               # and it works
    assert len(store.runs_of("alice")) == 1


def test_a_store_that_cannot_be_created_lives_in_memory_with_one_sentence(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    store, problem = open_store(blocker / "runs.sqlite3")
    assert "cannot be opened" in problem and "NN_DB" in problem and "\n" not in problem
    finished_run(store)
    assert len(store.runs_of("alice")) == 1

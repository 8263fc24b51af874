"""Runs that outlive their page (nn_core.students): saved when they end, back after a restart,
stopped only after NN_ORPHAN_SECONDS with no page, and never duplicated by reloads.

Real runs in real trainer processes; the clock that measures "no page for so long" is a fake one.
"""

import time

import pytest

from nn_core.config import TrainConfig
from nn_core.data import load_shipped_sample, make_split
from nn_core.experiments import make_experiment
from nn_core.limits import Limits
from nn_core.pool import WorkerPool
from nn_core.store import DatasetRef, RunStore
from nn_core.students import StoredRun, Students

pytest.importorskip("torch")

SHIPPED = DatasetRef("MNIST sample (5,000 digits, shipped)")
SHORT = TrainConfig(hidden=(8,), epochs=1)
LONG = TrainConfig(hidden=(16,), epochs=50)
ORPHAN_SECONDS = 30.0


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


@pytest.fixture(scope="module")
def split():
    return make_split(load_shipped_sample())


@pytest.fixture(scope="module")
def pool():
    pool = WorkerPool(3, max_runs=3).warm_up()      # one more than a run needs: a duplicate would show
    deadline = time.monotonic() + 60
    while pool.idle < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    yield pool
    pool.shutdown()


@pytest.fixture
def make(tmp_path, split, pool):
    """make(store=None, **limits) -> (Students, Clock, store) on a fresh store; runs stopped after."""
    made = []

    def make_students(store=None, **limits):
        store = store or RunStore(tmp_path / "runs.sqlite3")
        clock = Clock()
        students = Students(store, Limits(**{"orphan_seconds": ORPHAN_SECONDS, **limits}),
                            split_loader=lambda ref, student, config: split, clock=clock, sweep_every=None)
        made.append(students)
        return students, clock, store
    yield make_students
    for students in made:
        for run in students.live_runs():
            run.stop()
            run.join(timeout=10)


def start(students, split, pool, config=SHORT, token="alice"):
    return students.start(token, config, split, ("numpy", "torch"), SHIPPED, limits=Limits(), pool=pool)


def wait_for_steps(run, more_than=0, timeout=20.0):
    deadline = time.monotonic() + timeout
    while len(run.records("numpy")) <= more_than and time.monotonic() < deadline:
        time.sleep(0.02)
    return len(run.records("numpy"))


def test_a_finished_run_is_saved_and_comes_back_after_a_restart(make, split, pool, tmp_path):
    students, _, store = make()
    run = start(students, split, pool)
    assert run.join(timeout=60) and run.status == "done", run.messages()
    assert students.save_problem is None
    store.close()

    students, _, store = make(RunStore(tmp_path / "runs.sqlite3"))    # a new server on the same file
    (back,) = students.runs("alice")
    assert isinstance(back, StoredRun) and back.finished and not back.alive
    assert (back.id, back.name, back.status, back.impls) == (run.id, run.name, "done", run.impls)
    assert back.name == "run 1 · numpy, torch · MNIST sample (5,000 digits, shipped)"
    assert back.messages() == run.messages()
    for impl in run.impls:
        assert [r.to_dict() for r in back.records(impl)] == [r.to_dict() for r in run.records(impl)]
        for (W, b), (W0, b0) in zip(back.twins[impl].params(), run.twins[impl].params()):
            assert (W == W0).all() and (b == b0).all()
    assert back.split is split and students.runs("bob") == []
    assert start(students, split, pool).name.startswith("run 2 ")       # numbering carries on


def test_a_run_outlives_its_page_and_stops_after_the_grace_period(make, split, pool):
    students, clock, store = make()
    students.attach("alice")
    run = start(students, split, pool, LONG)
    steps = wait_for_steps(run)
    students.detach("alice")                          # the tab closed, or its connection dropped

    clock.now += ORPHAN_SECONDS - 1
    students.sweep()
    assert wait_for_steps(run, steps) > steps and not run.finished      # still training

    clock.now += 1
    students.sweep()
    assert run.join(timeout=10) and run.status == "stopped"
    for message in run.messages().values():
        assert "no page of yours was open for 30 s" in message and "NN_ORPHAN_SECONDS" in message
    (row,) = store.runs_of("alice")
    assert row.status == "stopped" and "NN_ORPHAN_SECONDS" in row.messages["numpy"]

    students.sweep()                                  # nobody looks: the list keeps its stored copy
    assert isinstance(students.runs("alice")[0], StoredRun)


def test_a_page_that_comes_back_within_the_grace_period_keeps_the_run(make, split, pool):
    students, clock, _ = make()
    students.attach("alice")
    run = start(students, split, pool, LONG)
    students.detach("alice")
    clock.now += ORPHAN_SECONDS - 1
    students.attach("alice")                          # the page is back (a reload, the Wi-Fi)
    clock.now += 10 * ORPHAN_SECONDS
    students.sweep()
    steps = wait_for_steps(run)
    assert wait_for_steps(run, steps) > steps and not run.finished
    assert students.runs("alice") == [run]


def test_a_hundred_reloads_during_training_leave_one_run_and_one_worker_per_twin(make, split, pool):
    students, clock, store = make()
    students.attach("alice")
    run = start(students, split, pool, LONG)
    wait_for_steps(run)
    first_list = students.runs("alice")
    for _ in range(100):                               # F5: the new page attaches, the old one leaves
        students.attach("alice")
        assert students.runs("alice") is first_list
        students.detach("alice")
        clock.now += 1.0
        students.sweep()

    assert students.runs("alice") == [run] and students.live_runs() == [run]
    assert not run.finished and students.pages("alice") == 1
    pids = run.worker_pids()
    assert sorted(pids) == ["numpy", "torch"] and len(set(pids.values())) == 2
    assert pool.idle == 1                              # the third worker was never asked for
    assert store.count_runs("alice") == 1


def test_pruning_keeps_each_students_newest_runs_in_the_store_and_on_the_page(make, split, pool):
    students, _, store = make(keep_runs=2)
    runs = []
    for _ in range(3):
        runs.append(start(students, split, pool))
        assert runs[-1].join(timeout=60)
    assert [r.id for r in students.runs("alice")] == [r.id for r in runs[1:]]
    assert [row.id for row in store.runs_of("alice")] == [r.id for r in runs[1:]]


# ---- experiments: kept like Train runs, in a list of their own ---------------------------------------
def start_experiment(students, split, pool, values=("0.01", "0.1"), config=SHORT, token="alice"):
    experiment = make_experiment(config, "lr", values)
    return students.start_experiment(token, experiment, split, "numpy", SHIPPED, limits=Limits(), pool=pool)


def test_an_experiment_is_saved_at_its_end_and_comes_back_after_a_restart(make, split, pool, tmp_path):
    students, _, store = make()
    started = start_experiment(students, split, pool)
    assert [run.label for run in started.runs] == ["lr=0.01", "lr=0.1"]
    assert store.count_runs("alice") == 2                       # in the store from their start
    for run in started.runs:
        assert run.join(timeout=60) and run.status == "done", run.messages()
    assert students.runs("alice") == []                         # not among the Train runs
    store.close()

    students, _, _ = make(RunStore(tmp_path / "runs.sqlite3"))  # a new server on the same file
    back = students.latest_experiment("alice")
    assert back.experiment == started.experiment and back.impl == "numpy" and not back.active
    assert [(r.id, r.label, r.status) for r in back.runs] == [(r.id, r.label, "done") for r in started.runs]
    assert all(isinstance(r, StoredRun) for r in back.runs)
    assert [r.to_dict() for r in back.runs[1].records("numpy")] == [
        r.to_dict() for r in started.runs[1].records("numpy")]
    assert [r.final_val_acc for r in back.results()] == [r.final_val_acc for r in started.results()]
    assert students.runs("alice") == [] and students.latest_experiment("bob") is None
    again = start_experiment(students, split, pool, config=SHORT.replace(epochs=1, hidden=(4,)))
    assert again.number == back.number + 1 and students.latest_experiment("alice") is again
    assert " · lr=0.01 · numpy · " in again.runs[0].name and again.runs[0].name.startswith("experiment 2 ")


def test_an_experiment_stops_the_previous_experiment_and_a_train_run_the_older_train_run(make, split, pool):
    students, _, _ = make()
    train = students.start("alice", LONG, split, ("numpy",), SHIPPED, limits=Limits(), pool=pool)
    first = start_experiment(students, split, pool, config=LONG)
    wait_for_steps(first.runs[0])
    second = start_experiment(students, split, pool, config=LONG)
    for run in first.runs:
        assert run.join(timeout=20) and run.status == "stopped"
    assert not train.finished                                   # the Train run trains on
    newer = students.start("alice", LONG, split, ("numpy",), SHIPPED, limits=Limits(), pool=pool)
    assert train.join(timeout=20) and train.status == "stopped"
    assert not any(run.finished for run in second.runs)         # the experiment trains on
    assert students.runs("alice") == [train, newer]
    assert sorted(map(id, students.live_runs())) == sorted(map(id, [newer, *second.runs]))


def test_an_experiment_without_a_page_is_stopped_and_one_cut_by_a_restart_reads_interrupted(
        make, split, pool, tmp_path):
    students, clock, store = make()
    students.attach("alice")
    left = start_experiment(students, split, pool, config=LONG)
    students.detach("alice")
    clock.now += ORPHAN_SECONDS
    students.sweep()
    for run in left.runs:
        assert run.join(timeout=20) and run.status == "stopped"
        assert "no page of yours was open for 30 s" in run.messages()["numpy"]

    cut = start_experiment(students, split, pool, config=LONG)
    wait_for_steps(cut.runs[0])
    students.close()                                  # the server stops under the training runs
    for run in cut.runs:
        run.stop()
        run.join(timeout=20)
    assert store.mark_interrupted() == 2              # as the next server start does
    students, _, _ = make(RunStore(tmp_path / "runs.sqlite3"))
    back = students.latest_experiment("alice")
    assert [r.id for r in back.runs] == [r.id for r in cut.runs]
    assert {r.status for r in back.runs} == {"interrupted"}
    assert "interrupted by a server restart" in back.runs[0].messages()["numpy"]

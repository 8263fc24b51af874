"""nn_core.run.Run: a training run in worker threads, driven like the app and the CLI drive it."""

import dataclasses
import gc
import os
import sys
import threading
import time
import weakref

import numpy as np
import pytest

from nn_core.config import TrainConfig
from nn_core.data import load_shipped_sample, make_split
from nn_core.limits import Limits
from nn_core.run import DIVERGED, DONE, LIMIT, PAUSED, QUEUED, RUNNING, STOPPED, Run, Scheduler, run_to_end
from nn_core.trainer import initial_params, make_twin, train

torch = pytest.importorskip("torch")

BOTH = ("numpy", "torch")
# LONG runs on the whole sample: 500 steps an epoch, 100,000 in all; it only ends when stopped.
LONG = TrainConfig(hidden=(32,), batch_size=8, epochs=200, eval_every=100)
SHORT = TrainConfig(hidden=(8,), batch_size=50, epochs=2)   # on the 400-row split: 8 steps an epoch


@pytest.fixture(scope="module")
def full():
    return make_split(load_shipped_sample())


@pytest.fixture(scope="module")
def split(full):
    return dataclasses.replace(full, x_train=full.x_train[:400], y_train=full.y_train[:400],
                               x_val=full.x_val[:100], y_val=full.y_val[:100])


@pytest.fixture
def make_run():
    """Run(...) that is stopped and joined after the test, even if the test fails halfway."""
    runs = []

    def make(*args, **kwargs):
        runs.append(Run(*args, **kwargs))
        return runs[-1]
    yield make
    for run in runs:
        run.stop()
    for run in runs:
        run.join(timeout=5)


def wait_for(condition, timeout=10.0, poll=0.005):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {condition}")
        time.sleep(poll)


def counts(run):
    return {impl: len(run.records(impl)) for impl in run.impls}


def settled_counts(run, quiet=0.3):
    """Record counts once they have not changed for `quiet` seconds (an in-flight step may land)."""
    before = counts(run)
    while True:
        time.sleep(quiet)
        now = counts(run)
        if now == before:
            return now
        before = now


def nn_threads():
    return [t for t in threading.enumerate() if t.name.startswith("nn-run") and t.is_alive()]


def rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def test_first_numpy_record_arrives_quickly(make_run, full):
    run = make_run(LONG, full, scheduler=Scheduler(1))
    assert run.status == QUEUED and run.records("numpy") == []
    t0 = time.monotonic()
    run.start()
    wait_for(lambda: run.records("numpy"), timeout=5)
    assert time.monotonic() - t0 < 5
    first = run.records("numpy")[0]
    assert first.impl == "numpy" and first.step == 1 and first.val_loss is not None
    run.stop()
    assert run.join(timeout=10)   # generous: the first torch twin built in a process warms torch up


def test_numpy_twin_does_not_wait_for_the_torch_twin(make_run, split, monkeypatch):
    """One thread per twin: a slow torch start (importing torch takes seconds) holds nothing up."""
    import nn_core.run
    release = threading.Event()

    def slow_make_twin(impl, *args, **kwargs):
        if impl == "torch":
            release.wait(10)
        return make_twin(impl, *args, **kwargs)

    monkeypatch.setattr(nn_core.run, "make_twin", slow_make_twin)
    run = make_run(SHORT, split, scheduler=Scheduler(1)).start()
    try:
        wait_for(lambda: run.finished or run.latest("numpy") and run.latest("numpy").event == "done")
        assert run.records("torch") == [] and run.status == RUNNING
    finally:
        release.set()
    assert run.join(timeout=10)
    assert run.status == DONE and len(run.records("torch")) == 16


def test_pause_step_resume_stop(make_run, full):
    run = make_run(LONG, full, scheduler=Scheduler(1)).start()
    wait_for(lambda: all(counts(run).values()))
    assert run.status == RUNNING

    run.pause()
    assert run.paused
    paused = settled_counts(run)
    time.sleep(0.3)
    assert counts(run) == paused                       # no new records while paused
    assert run.status == PAUSED

    for n in (1, 2):
        run.step()                                     # exactly one more step per twin
        wait_for(lambda: counts(run) == {impl: c + n for impl, c in paused.items()}, timeout=5)
        time.sleep(0.3)
        assert counts(run) == {impl: c + n for impl, c in paused.items()}
        assert run.status == PAUSED
    for impl in BOTH:   # each twin runs at its own pace: they are at different steps
        assert [r.step for r in run.records(impl)] == list(range(1, paused[impl] + 3))

    run.resume()
    assert run.status == RUNNING
    wait_for(lambda: all(counts(run)[impl] > paused[impl] + 5 for impl in BOTH))

    t0 = time.monotonic()
    run.stop()
    assert run.join(timeout=1.0), "threads still alive 1 s after stop()"
    assert time.monotonic() - t0 < 1.0
    assert run.status == STOPPED and run.finished and not run.alive
    for impl in BOTH:
        last = run.latest(impl)
        assert last.event == "stopped" and last.message.startswith("stopped by the user after step")
    assert set(run.messages()) == set(BOTH)


def test_stop_while_paused_ends_quickly(make_run, full):
    run = make_run(LONG, full, scheduler=Scheduler(1)).start()
    wait_for(lambda: all(counts(run).values()))
    run.pause()
    settled_counts(run, quiet=0.1)
    run.stop()
    assert run.join(timeout=1.0)
    assert run.status == STOPPED


def test_run_to_end(make_run, split):
    run = run_to_end(make_run(SHORT, split, scheduler=Scheduler(1)))
    assert run.status == DONE and run.finished and not run.alive
    for impl in BOTH:
        records = run.records(impl)
        assert [r.step for r in records] == list(range(1, 17))
        assert records[-1].event == "done" and records[-1].message == "finished 2 epochs (16 steps)."
    assert set(run.twins) == set(BOTH) and run.errors == {}
    # the trained twins stay available for the other pages
    probs = run.twins["numpy"].predict_proba(split.x_val[:5])
    np.testing.assert_allclose(probs, run.twins["torch"].predict_proba(split.x_val[:5]), atol=1e-4)


def test_run_matches_the_bare_training_loop(make_run, split):
    """Threads change nothing: a Run's records are those of train() called directly."""
    run = run_to_end(make_run(SHORT, split, impls=("numpy",), scheduler=Scheduler(1)))
    config = SHORT.validated()
    direct = list(train(make_twin("numpy", config, initial_params(config)), split, config))
    assert [r.loss for r in run.records("numpy")] == [r.loss for r in direct]


def test_final_statuses(make_run, full):
    diverged = run_to_end(make_run(TrainConfig(optimizer="sgd", lr=50, epochs=3), full,
                              scheduler=Scheduler(1)))
    assert diverged.status == DIVERGED
    assert all("the loss became" in m and "lower the learning rate" in m
               for m in diverged.messages().values())
    limited = run_to_end(make_run(LONG, full, limits=Limits(max_seconds=0.2), scheduler=Scheduler(1)))
    assert limited.status == LIMIT
    assert all("NN_MAX_SECONDS" in m for m in limited.messages().values())


def test_scheduler_with_one_slot_queues_the_second_run(make_run, full, split):
    scheduler = Scheduler(1)
    first = make_run(LONG, full, scheduler=scheduler).start()
    wait_for(lambda: all(counts(first).values()))
    second = make_run(SHORT, split, scheduler=scheduler).start()
    third = make_run(SHORT, split, scheduler=scheduler).start()
    wait_for(lambda: third.queue_place() == 2)
    assert second.status == QUEUED and second.queue_place() == 1
    assert third.status == QUEUED
    assert counts(second) == counts(third) == {"numpy": 0, "torch": 0}

    third.stop()                                       # leaving the queue
    assert third.join(timeout=1.0)
    assert third.status == STOPPED and third.queue_place() == 0
    assert counts(third) == {"numpy": 0, "torch": 0}
    assert second.queue_place() == 1 and second.status == QUEUED

    first.stop()                                       # frees the slot: the second run goes
    assert first.join(timeout=1.0)
    wait_for(lambda: second.finished, timeout=20)
    assert second.status == DONE and second.queue_place() == 0
    assert counts(second) == {"numpy": 16, "torch": 16}


def test_two_runs_at_once_keep_separate_records(make_run, split):
    scheduler = Scheduler(2)
    a = make_run(SHORT, split, scheduler=scheduler)
    b = make_run(SHORT.replace(seed=5, hidden=(6,)), split, scheduler=scheduler)
    a.start(), b.start()
    for run in (a, b):
        assert run.join(timeout=30)
    assert a.status == b.status == DONE
    assert a.twins["numpy"] is not b.twins["numpy"]
    assert a.twins["numpy"].model.weights[0].shape == (784, 8) and b.twins["numpy"].model.weights[0].shape == (784, 6)
    for run in (a, b):
        config = run.config
        alone = list(train(make_twin("numpy", config, initial_params(config)), split, config))
        assert [r.loss for r in run.records("numpy")] == [r.loss for r in alone]


def test_without_torch_the_numpy_twin_still_trains(make_run, split, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)              # `import torch` raises ImportError
    monkeypatch.setitem(sys.modules, "nn_core.torch_twin", None)
    run = run_to_end(make_run(SHORT, split, scheduler=Scheduler(1)))
    assert run.latest("numpy").event == "done"
    assert run.records("torch") == []
    assert "PyTorch is not installed" in run.errors["torch"]
    assert "pip install torch" in run.messages()["torch"]


def test_many_runs_leave_no_threads_and_no_memory_behind(full):
    scheduler = Scheduler(4)
    before = set(nn_threads())                          # none, unless an earlier test failed
    baseline_threads = len(threading.enumerate())
    rss0 = None
    refs = []
    for i in range(100):
        run = Run(LONG.replace(seed=i), full, scheduler=scheduler).start()   # not kept: may be freed
        refs.append(weakref.ref(run))
        if i % 2:                                       # half of them get as far as training
            wait_for(lambda: run.records("numpy") or run.finished)
        run.stop()
        assert run.join(timeout=10)   # generous: the first twin built in a process warms torch up
        assert run.status == STOPPED
        if i == 9:
            rss0 = rss_bytes()                          # after warm-up (caches, torch's pools)
    assert set(nn_threads()) <= before
    assert len(threading.enumerate()) == baseline_threads
    grown = rss_bytes() - rss0
    assert grown < 100 * 2**20, f"RSS grew by {grown / 2**20:.0f} MB over 90 runs"
    assert scheduler.place(10**9) == 0 and not scheduler._active and not scheduler._waiting
    del run
    gc.collect()
    assert sum(ref() is not None for ref in refs) == 0   # nothing holds on to finished runs

"""nn_core.run.Run: a training run whose twins train in worker processes, driven like the app and
the CLI drive it."""

import dataclasses
import gc
import os
import signal
import sys
import threading
import time
import weakref

import numpy as np
import pytest

from nn_core.config import TrainConfig
from nn_core.data import load_shipped_sample, make_split
from nn_core.limits import Limits
from nn_core.pool import WorkerPool
from nn_core.run import (DIVERGED, DONE, FAILED, LIMIT, PAUSED, QUEUED, RUNNING, STOPPED, WORKER_DIED, Run,
                         run_to_end)
from nn_core.trainer import train
from nn_core.twins import initial_params, make_twin

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


@pytest.fixture(scope="module")
def pool():
    """Two warm trainer processes, as on a 2-core server."""
    pool = WorkerPool(2, threads=1).warm_up()
    yield pool
    pool.shutdown()


@pytest.fixture
def make_run(pool):
    """Run(...) on the test pool, stopped and joined after the test, even if the test fails halfway."""
    runs = []

    def make(*args, **kwargs):
        kwargs.setdefault("pool", pool)
        runs.append(Run(*args, **kwargs))
        return runs[-1]
    yield make
    for run in runs:
        run.stop()
    for run in runs:
        run.join(timeout=5)


def wait_for(condition, timeout=30.0, poll=0.005):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {condition}")
        time.sleep(poll)


def twin_ended(run, impl) -> bool:
    last = run.latest(impl)
    return last is not None and last.event is not None


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


def test_first_numpy_record_arrives_quickly(make_run, full):
    run = make_run(LONG, full)
    assert run.status == QUEUED and run.records("numpy") == []
    t0 = time.monotonic()
    run.start()
    wait_for(lambda: run.records("numpy"), timeout=5)
    assert time.monotonic() - t0 < 5
    first = run.records("numpy")[0]
    assert first.impl == "numpy" and first.step == 1 and first.val_loss is not None
    run.stop()
    assert run.join(timeout=10)   # generous: the first torch twin built in a process warms torch up


def test_each_twin_trains_in_its_own_process(make_run, full, pool):
    """Two processes, neither of them this one: the twins share no interpreter and no thread pool."""
    run = make_run(LONG, full).start()
    wait_for(lambda: all(counts(run).values()))
    pids = run.worker_pids()
    assert set(pids) == set(BOTH) and len(set(pids.values())) == 2
    assert os.getpid() not in pids.values() and set(pids.values()) <= set(pool.pids())


def test_with_one_worker_the_twins_share_its_time_and_each_keeps_its_own_pace(split):
    """With one trainer process (NN_WORKERS=1) both twins train there at once, with equal shares of
    its time: the NumPy twin, several times faster per step at this size, ends well before the
    PyTorch twin, as it would on a core of its own (taking a step of each in turn would make them
    end together, and the learner would see the slower twin keep up)."""
    pool = WorkerPool(1).warm_up()
    try:
        run = Run(SHORT.replace(epochs=40), split, pool=pool).start()
        wait_for(lambda: all(counts(run).values()), timeout=30)
        assert len(set(run.worker_pids().values())) == 1
        assert run.join(timeout=60) and run.status == DONE
        assert [len(run.records(impl)) for impl in BOTH] == [320, 320]
        assert run.records("numpy")[0].loss == pytest.approx(run.records("torch")[0].loss, abs=1e-6)
        numpy_end, torch_end = (run.latest(impl).wall_time for impl in BOTH)
        numpy_speed, torch_speed = (run.latest(impl).samples_per_s for impl in BOTH)
        assert numpy_speed > 1.5 * torch_speed
        assert numpy_end < 0.75 * torch_end, (numpy_end, torch_end)
    finally:
        pool.shutdown()


def test_pause_step_resume_stop(make_run, full):
    run = make_run(LONG, full).start()
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
    run = make_run(LONG, full).start()
    wait_for(lambda: all(counts(run).values()))
    run.pause()
    settled_counts(run, quiet=0.1)
    run.stop()
    assert run.join(timeout=1.0)
    assert run.status == STOPPED


def test_run_to_end(make_run, split):
    run = run_to_end(make_run(SHORT, split))
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
    """Processes change nothing: a Run's records and weights are those of train() called here."""
    run = run_to_end(make_run(SHORT, split, impls=("numpy",)))
    config = SHORT.validated()
    twin = make_twin("numpy", config, initial_params(config))
    direct = list(train(twin, split, config))
    assert [r.loss for r in run.records("numpy")] == [r.loss for r in direct]
    for (W, b), (W_direct, b_direct) in zip(run.twins["numpy"].params(), twin.params()):
        np.testing.assert_array_equal(W, W_direct)
        np.testing.assert_array_equal(b, b_direct)


def test_final_statuses(make_run, full):
    diverged = run_to_end(make_run(TrainConfig(optimizer="sgd", lr=50, epochs=3), full))
    assert diverged.status == DIVERGED
    assert all("the loss became" in m and "lower the learning rate" in m
               for m in diverged.messages().values())
    limited = run_to_end(make_run(LONG, full, limits=Limits(max_seconds=0.2)))
    assert limited.status == LIMIT
    assert all("NN_MAX_SECONDS" in m for m in limited.messages().values())


def test_runs_beyond_the_cap_wait_in_the_queue(full, split):
    pool = WorkerPool(2, max_runs=1).warm_up()
    try:
        first = Run(LONG, full, pool=pool).start()
        wait_for(lambda: all(counts(first).values()))
        second = Run(SHORT, split, pool=pool).start()
        third = Run(SHORT, split, pool=pool).start()
        wait_for(lambda: third.queue_place() == 2)
        assert second.status == QUEUED and second.queue_place() == 1
        assert third.status == QUEUED
        assert counts(second) == counts(third) == {"numpy": 0, "torch": 0}

        third.stop()                                       # leaving the queue
        assert third.join(timeout=1.0)
        assert third.status == STOPPED and third.queue_place() == 0
        assert counts(third) == {"numpy": 0, "torch": 0}
        assert second.queue_place() == 1 and second.status == QUEUED

        first.stop()                                       # under the cap again: the second run goes
        assert first.join(timeout=1.0)
        wait_for(lambda: second.finished, timeout=20)
        assert second.status == DONE and second.queue_place() == 0
        assert counts(second) == {"numpy": 16, "torch": 16}
    finally:
        pool.shutdown()


def test_a_busy_pool_starts_the_next_run_at_once_and_shares_its_workers(make_run, full, split):
    first = make_run(LONG, full).start()                # a twin on each of the two workers
    wait_for(lambda: all(counts(first).values()))
    second = make_run(SHORT, split).start()
    wait_for(lambda: second.finished, timeout=20)      # not queued behind the first run
    assert second.status == DONE and counts(second) == {"numpy": 16, "torch": 16}
    assert second.records("numpy")[0].loss == pytest.approx(second.records("torch")[0].loss, abs=1e-6)
    assert first.status == RUNNING                      # the first run trains on, untouched
    n = counts(first)
    wait_for(lambda: all(counts(first)[impl] > n[impl] for impl in BOTH))


def test_a_twin_that_ends_gives_its_place_back_while_the_other_trains(pool, make_run, full):
    # NumPy is several times faster than PyTorch at batch 8: it ends first.
    run = make_run(TrainConfig(hidden=(32,), batch_size=8, epochs=10, eval_every=500), full).start()
    wait_for(lambda: twin_ended(run, "numpy"), timeout=60)
    assert not twin_ended(run, "torch"), "PyTorch ended too: nothing to check"
    wait_for(lambda: pool.idle == 1, timeout=2)       # NumPy's worker has nothing left to do...
    assert not run.finished                           # ...while the run goes on
    run.stop()
    assert run.join(timeout=5)
    wait_for(lambda: pool.idle == 2, timeout=5)


def test_two_runs_at_once_keep_separate_records(make_run, split):
    pool = WorkerPool(4).warm_up()
    a = make_run(SHORT, split, pool=pool)
    b = make_run(SHORT.replace(seed=5, hidden=(6,)), split, pool=pool)
    a.start(), b.start()
    for run in (a, b):
        assert run.join(timeout=30)
    assert a.status == b.status == DONE
    pool.shutdown()
    assert a.twins["numpy"] is not b.twins["numpy"]
    assert a.twins["numpy"].params()[0][0].shape == (784, 8) and b.twins["numpy"].params()[0][0].shape == (784, 6)
    for run in (a, b):
        config = run.config
        alone = list(train(make_twin("numpy", config, initial_params(config)), split, config))
        assert [r.loss for r in run.records("numpy")] == [r.loss for r in alone]


def test_without_torch_the_worker_says_how_to_install_it(split, monkeypatch):
    """What a trainer process does for the PyTorch twin when torch cannot be imported."""
    import multiprocessing

    from nn_core import worker
    monkeypatch.setitem(sys.modules, "torch", None)              # `import torch` raises ImportError
    monkeypatch.setitem(sys.modules, "nn_core.torch_twin", None)
    ours, theirs = multiprocessing.Pipe()
    config = SHORT.validated()
    job = worker.Job("torch", config, initial_params(config), 1, split, max_seconds=60)
    error = worker.start_twin(theirs, job, split)
    assert "PyTorch is not installed" in error and "pip install torch==2.13.0" in error
    assert not ours.poll()                                       # no records were sent


def test_a_killed_worker_ends_its_twin_with_one_sentence(make_run, full, split, pool):
    run = make_run(LONG, full).start()
    wait_for(lambda: all(counts(run).values()))
    victim = run.worker_pids()["torch"]
    os.kill(victim, signal.SIGKILL)
    wait_for(lambda: "torch" in run.errors, timeout=5)
    assert run.errors["torch"] == WORKER_DIED == "the trainer process stopped unexpectedly; train again."
    n = counts(run)["numpy"]
    wait_for(lambda: counts(run)["numpy"] > n + 10)              # the NumPy twin carries on
    assert run.status == RUNNING
    run.stop()
    assert run.join(timeout=5)
    assert run.status == FAILED and run.latest("numpy").event == "stopped"
    assert not pid_exists(victim)                                # reaped: no zombie left behind
    wait_for(lambda: pool.idle == pool.size)                     # the pool started a replacement
    assert victim not in pool.pids()
    again = run_to_end(make_run(SHORT, split))
    assert again.status == DONE and again.errors == {}


def pid_exists(pid) -> bool:
    """True while pid is a process that has not been reaped (a zombie counts)."""
    return os.path.exists(f"/proc/{pid}")


def all_processes():
    """Processes whose parent is this one (the forkserver's children are the workers)."""
    kids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            kids.append((int(entry), int(fields[1]), fields[0]))   # pid, parent pid, state
    return kids


def process_tree_rss(root_pid):
    """RSS in bytes of root_pid and every process below it."""
    procs = all_processes()
    tree, grown = {root_pid}, True
    while grown:
        below = {pid for pid, parent, _ in procs if parent in tree}
        grown = not below <= tree
        tree |= below
    total = 0
    for pid in tree:
        try:
            with open(f"/proc/{pid}/statm") as f:
                total += int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except OSError:
            pass
    return total, tree


def test_many_runs_leave_only_the_pools_workers_and_no_memory_behind(full):
    pool = WorkerPool(2, recycle_after=50).warm_up()     # so that each worker is recycled here
    wait_for(lambda: pool.idle == 2)
    baseline_threads = len(threading.enumerate())
    rss0 = None
    refs = []
    try:
        for i in range(100):
            run = Run(LONG.replace(seed=i), full, pool=pool).start()   # not kept: may be freed
            refs.append(weakref.ref(run))
            if i % 2:                                       # half of them get as far as training
                wait_for(lambda run=run: all(counts(run).values()) or run.finished)
            run.stop()
            assert run.join(timeout=10)
            assert run.status == STOPPED, run.messages()
            if i == 9:
                rss0, _ = process_tree_rss(os.getpid())    # after warm-up (caches, torch's pools)
        wait_for(lambda: pool.idle == 2)
        _, tree = process_tree_rss(os.getpid())
        workers = set(pool.pids())
        zombies = [pid for pid, parent, state in all_processes() if state == "Z" and pid in tree]
        assert not zombies
        assert pool.started >= 4                            # each worker was recycled at least once
        alive_workers = {pid for pid in tree if pid in workers}
        assert alive_workers == workers and len(workers) == 2
        wait_for(lambda: len(threading.enumerate()) == baseline_threads)
        rss1, _ = process_tree_rss(os.getpid())
        assert rss1 < 1.10 * rss0, f"RSS of this process and its workers grew {rss1 / rss0:.2f}x over 90 runs"
        assert pool.place(10**9) == 0 and not pool._active_runs and not pool._waiting
    finally:
        pool.shutdown()
    for pid in workers:
        wait_for(lambda: not pid_exists(pid), timeout=5)
    del run
    gc.collect()
    assert sum(ref() is not None for ref in refs) == 0   # nothing holds on to finished runs

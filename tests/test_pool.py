"""nn_core.pool: the warm trainer processes, their queue, and work sent to them with call()."""

import os
import time

import pytest

from nn_core.config import TrainConfig
from nn_core.errors import UserError
from nn_core.pool import WorkerPool
from nn_core.threads import thread_report


@pytest.fixture(scope="module")
def pool():
    pool = WorkerPool(2, threads=1).warm_up()
    yield pool
    pool.shutdown()


def test_call_runs_in_a_worker_process(pool):
    pid = pool.call(os.getpid)
    assert pid != os.getpid() and pid in pool.pids()
    assert pool.idle == 2                                    # the worker went back to the pool


def test_workers_cap_their_thread_pools(pool):
    report = pool.call(thread_report)
    assert report["blas"] == 1 and report["torch"] in (1, None)


def test_a_user_error_in_a_worker_comes_back_as_the_same_sentence(pool):
    with pytest.raises(UserError, match="learning rate"):
        pool.call(TrainConfig(lr=-1).validated)
    assert pool.call(os.getpid) in pool.pids()              # and the worker keeps serving


def test_runs_share_workers_up_to_the_cap_then_wait(pool):
    both = ("numpy", "torch")
    first = pool.acquire("first", both, lambda: False)         # one twin on each worker
    assert sorted(w.pid for w in first) == sorted(pool.pids()) and pool.idle == 0
    second = pool.acquire("second", both, lambda: False)       # shares them: max_runs is 2 here
    assert {w.pid for w in second} == set(pool.pids())
    assert pool.acquire("third", ("numpy",), lambda: True) is None   # over the cap: gave up waiting
    assert pool.place("third") == 0
    pool.release("first", list(zip(first, both)))
    pool.release("second", list(zip(second, both)))
    assert pool.idle == 2


def test_only_half_the_workers_load_torch_and_the_pytorch_twins_spread_over_them():
    """torch costs a process ~260 MB: half the workers import it while they start, and the PyTorch
    twins go there, spread evenly, even when the NumPy twins end first and leave the other workers
    the least busy. The NumPy twins go to the workers without torch."""
    pool = WorkerPool(4, threads=1, max_runs=4).warm_up()
    try:
        deadline = time.monotonic() + 60
        while len(pool.pids()) < 4 and time.monotonic() < deadline:    # all four have started
            time.sleep(0.1)
        both, places = ("numpy", "torch"), []
        for i in range(4):
            workers = pool.acquire(i, both, lambda: False)
            places.append(list(zip(workers, both)))
            pool.release(i, places[-1][:1], run_ended=False)    # the NumPy twin ends at once
        with_torch = [pid for pid in pool.pids() if torch_loaded(pid)]
        assert len(with_torch) == 2
        by_kind = {impl: sorted(w.pid for run in places for w, kind in run if kind == impl) for impl in both}
        assert by_kind["torch"] == sorted(with_torch * 2)
        assert not set(by_kind["numpy"]) & set(with_torch)
        for i, run in enumerate(places):
            pool.release(i, run[1:])
        assert pool.idle == 4
        assert [pid for pid in pool.pids() if torch_loaded(pid)] == with_torch   # no other took it
    finally:
        pool.shutdown()


def torch_loaded(pid) -> bool:
    with open(f"/proc/{pid}/maps") as maps:
        return "libtorch" in maps.read()


def test_a_call_waits_for_a_worker_with_nothing_to_train(pool):
    """The Speed page's timings run alone in a worker, never beside a twin."""
    held = pool.acquire("run", ("numpy",), lambda: False)[0]
    assert pool.call(os.getpid) != held.pid
    pool.release("run", [(held, "numpy")])


def test_trainer_processes_never_load_pandas(pool):
    """A Job carries a Split, and unpickling it imports nn_core.data: that module must not pull in
    pandas (about 1 s of import in a fresh worker, on the first click's path, and ~50 MB each)."""
    from nn_core.data import load_shipped_sample, make_split
    from nn_core.run import Run, run_to_end

    run = run_to_end(Run(TrainConfig(hidden=(8,), epochs=1), make_split(load_shipped_sample()),
                         pool=pool))
    assert run.status == "done"
    for pid in pool.pids():
        with open(f"/proc/{pid}/maps") as maps:
            loaded = maps.read()
        assert "numpy" in loaded and "pandas" not in loaded, f"worker {pid} has pandas loaded"


def test_a_call_gives_up_with_a_sentence_and_never_makes_runs_wait(pool):
    """While runs hold every worker, a call (the Speed page) waits `max_wait` seconds at most, then says
    why; runs started meanwhile go straight to the workers, never into a queue behind it."""
    import threading

    from nn_core.pool import TRAINERS_BUSY, PoolError

    held = pool.acquire("run", ("numpy", "torch"), lambda: False)   # a twin on each worker
    outcome = {}

    def call():
        try:
            pool.call(os.getpid, max_wait=1.0)
        except PoolError as e:
            outcome["error"] = str(e)
    caller = threading.Thread(target=call)
    caller.start()
    time.sleep(0.2)
    other = pool.acquire("another run", ("numpy",), lambda: False)  # starts at once
    assert pool.place("another run") == 0
    caller.join(5)
    assert outcome["error"] == TRAINERS_BUSY
    assert TRAINERS_BUSY == ("every trainer process is busy with runs right now; try again when fewer "
                             "runs are training.")
    pool.release("another run", [(other[0], "numpy")])
    pool.release("run", list(zip(held, ("numpy", "torch"))))
    assert pool.call(os.getpid) in pool.pids()


def test_every_worker_caps_torch_threads_however_it_imports_torch():
    """NN_THREADS caps torch in every worker: one that imports torch while it starts (the app's pool)
    and one that imports it when a PyTorch twin or a call needs it (the CLI's pool). Uncapped, torch
    starts a thread per core, and on a busy 2-core machine each PyTorch step got ~20x slower.
    Run in a fresh interpreter without the test suite's OMP_NUM_THREADS=1 (conftest), which hid it."""
    import subprocess
    import sys

    script = (
        "from nn_core.pool import WorkerPool\n"
        "from nn_core.threads import thread_report\n"
        "for preload in (True, False):\n"
        "    pool = WorkerPool(2, threads=1, preload_torch=preload).warm_up()\n"
        "    print(preload, pool.call(thread_report)['torch'])\n"
        "    pool.shutdown()\n")
    env = {k: v for k, v in os.environ.items()
           if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True,
                          timeout=120, cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "1", "False", "1"], done.stdout


def test_an_answer_that_cannot_cross_the_pipe_is_an_error_and_the_worker_keeps_serving(pool):
    import threading

    from nn_core.pool import PoolError
    with pytest.raises(PoolError, match="the answer could not be sent back"):
        pool.call(threading.Lock)                         # a lock cannot be pickled
    assert pool.call(os.getpid) in pool.pids() and pool.started == 2

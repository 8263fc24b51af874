"""nn_core.pool: the warm trainer processes, their queue, and work sent to them with call()."""

import os

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


def test_queue_waits_for_free_workers(pool):
    held = pool.acquire("holder", 2, lambda: False)
    assert pool.acquire("next", 1, lambda: True) is None      # gave up while waiting: nothing taken
    assert pool.place("next") == 0 and pool.idle == 0
    pool.release("holder", held)
    assert pool.idle == 2


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

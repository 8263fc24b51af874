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

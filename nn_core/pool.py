"""A warm pool of trainer processes, shared by every run of this process, with a first-come queue.

The pool keeps `size` worker processes (NN_WORKERS, default: the machine's cores) started before
anyone asks for one: NumPy, the project and PyTorch are imported once, in a forkserver that runs at a
lower CPU priority than the server (nn_core.forkserver_setup), and each worker is forked from it
ready to train. (A torch that is not installed is skipped; its twin's jobs then say how to install
it.) A run asks for one worker per twin; while other runs hold workers it starts with as many as
are free (one is enough: its twins then take turns). Runs that find too few free workers, or
`max_runs` runs already training, wait in a first-come queue. A run gives each worker back as soon
as it has no twin left to train there.

A worker that dies (killed, out of memory, a crash in native code) is replaced; one that has trained
RECYCLE_AFTER twins is retired and replaced too, so memory cannot creep.
"""

import atexit
import itertools
import multiprocessing
import multiprocessing.spawn
import threading
import weakref
from multiprocessing.connection import wait

from . import worker as worker_module
from .errors import UserError

WORKER_DIED = "the trainer process stopped unexpectedly; train again."
CALL_DIED = "the trainer process stopped unexpectedly; try again."

RECYCLE_AFTER = 50     # twins trained by one worker before it is replaced by a fresh one


WORKER_NAME = "nn-worker-"


def _preparation_without_main(get_preparation_data):
    """multiprocessing re-imports the caller's __main__ in every new process, by default. Here that
    is wrong: under Streamlit, __main__ is whichever page script is running at that moment (it would
    run again, without a server, in the worker), and the worker needs nothing from it: its code is
    in nn_core.worker. So a trainer process starts without the caller's main module."""
    if getattr(get_preparation_data, "leaves_out_main", False):
        return get_preparation_data

    def prepared(name):
        data = get_preparation_data(name)
        if name.startswith(WORKER_NAME):
            data.pop("init_main_from_path", None)
            data.pop("init_main_from_name", None)
        return data
    prepared.leaves_out_main = True
    return prepared


multiprocessing.spawn.get_preparation_data = _preparation_without_main(
    multiprocessing.spawn.get_preparation_data)


class PoolError(Exception):
    """No worker process could be started (the machine is out of processes or memory)."""


class Worker:
    """One trainer process and the calling side of its pipe."""

    _numbers = itertools.count(1)

    def __init__(self, context, threads: int):
        self.conn, child_conn = context.Pipe(duplex=True)
        self.number = next(Worker._numbers)
        self.process = context.Process(target=worker_module.serve, args=(child_conn, threads),
                                       name=f"{WORKER_NAME}{self.number}", daemon=True)
        self.process.start()
        child_conn.close()
        self.jobs = 0            # twins trained so far
        self.split_key = None    # which split the worker holds in memory
        self._send_lock = threading.Lock()

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def alive(self) -> bool:
        return self.process.is_alive()

    def send(self, message) -> bool:
        """Send one message; False if the worker is gone. Safe from several threads at once."""
        try:
            with self._send_lock:
                self.conn.send(message)
            return True
        except (BrokenPipeError, ConnectionError, OSError):
            return False

    def retire(self, timeout=2.0):
        """Ask the worker to quit; kill it if it does not within `timeout` seconds."""
        self.send(("quit",))
        self.process.join(timeout)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(timeout)
        self.conn.close()


_split_keys: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
_split_numbers = itertools.count(1)
_split_lock = threading.Lock()


def split_key(split) -> int:
    """A number that names this split object for as long as it lives (ids can be reused)."""
    with _split_lock:
        if split not in _split_keys:
            _split_keys[split] = next(_split_numbers)
        return _split_keys[split]


class WorkerPool:
    """`size` warm trainer processes behind a first-come queue of runs."""

    def __init__(self, size: int, threads: int = 1, max_runs: int | None = None,
                 preload_torch: bool = True):
        self.size = max(1, int(size))
        self.threads = threads
        self.max_runs = max_runs or self.size
        self._context = multiprocessing.get_context("forkserver")
        preload = ["nn_core.forkserver_setup", "nn_core.worker", "nn_core.data"]   # a Job unpickles a Split
        # torch.optim imports torch._dynamo at the first optimizer built (1.8 s here): once, here too.
        torch_modules = ["nn_core.torch_twin", "torch._dynamo"]
        self._context.set_forkserver_preload(preload + (torch_modules if preload_torch else []))
        self._cond = threading.Condition()
        self._idle: list[Worker] = []
        self._busy: set[Worker] = set()
        self._starting = 0
        self._waiting = []          # run ids, oldest first
        self._active_runs = set()
        self._start_error = None
        self._closed = False
        self.started = 0            # worker processes started over the pool's life
        atexit.register(self.shutdown)

    # ---- workers --------------------------------------------------------------------------------
    def warm_up(self):
        """Start the missing workers in the background (the first start waits for the forkserver)."""
        with self._cond:
            missing = self.size - len(self._idle) - len(self._busy) - self._starting
            self._starting += max(0, missing)
        for _ in range(max(0, missing)):
            threading.Thread(target=self._start_one, name="nn-pool-start", daemon=True).start()
        return self

    def _start_one(self):
        try:
            worker = Worker(self._context, self.threads)
        except Exception as e:   # OSError (no processes / memory left), or a broken install
            with self._cond:
                self._starting -= 1
                self._start_error = f"{type(e).__name__}: {e}"
                self._cond.notify_all()
            return
        with self._cond:
            self._starting -= 1
            self.started += 1
            if self._closed:
                worker.retire(0.5)
                return
            self._start_error = None
            self._idle.append(worker)
            self._cond.notify_all()

    def pids(self) -> list[int]:
        with self._cond:
            return [w.pid for w in [*self._idle, *self._busy]]

    @property
    def idle(self) -> int:
        with self._cond:
            return len(self._idle)

    # ---- the queue ------------------------------------------------------------------------------
    def acquire(self, run_id, need: int, cancelled, at_least: int | None = None) -> list[Worker] | None:
        """Block until run_id is first in the queue and `need` workers are free, or, while other
        runs hold workers (a busy pool), at least `at_least` (default: `need`); take as many as are
        free, up to `need`. (Workers still starting are waited for: they will be free in a moment.)

        None if cancelled() became true while waiting. Raises PoolError if workers cannot start.
        """
        need = min(need, self.size)
        at_least = need if at_least is None else max(1, min(at_least, need))

        def enough() -> bool:
            return len(self._idle) >= need or (len(self._idle) >= at_least and bool(self._busy))

        self.warm_up()
        with self._cond:
            self._waiting.append(run_id)
            try:
                while not (self._waiting[0] == run_id and len(self._active_runs) < self.max_runs
                           and enough()):
                    if cancelled():
                        return None
                    if self._start_error and not self._starting and not enough():
                        raise PoolError(self._start_error)
                    self._cond.wait(0.1)
                workers = [self._idle.pop(0) for _ in range(min(need, len(self._idle)))]
                self._busy.update(workers)
                self._active_runs.add(run_id)
                return workers
            finally:
                self._waiting.remove(run_id)
                self._cond.notify_all()

    def release(self, run_id, workers, run_ended: bool = True):
        """Give the run's workers back (run_ended=False: some of them, while the run goes on with the
        others); dead or worn-out ones are replaced by fresh ones."""
        worn = []
        with self._cond:
            if run_ended:
                self._active_runs.discard(run_id)
            for worker in workers:
                self._busy.discard(worker)
                if worker.alive and worker.jobs < RECYCLE_AFTER and not self._closed:
                    self._idle.append(worker)
                else:
                    worn.append(worker)
            self._cond.notify_all()
        for worker in worn:
            worker.retire()
        if worn and not self._closed:
            self.warm_up()

    def call(self, function, *args, **kwargs):
        """function(*args, **kwargs) in a free worker process (waiting in the queue like a run).

        For work that must be timed or isolated like training (the Speed page's measurements).
        A UserError raised there is raised here with the same sentence; other failures raise PoolError.
        """
        ticket = object()                     # this call's place in the queue
        worker = self.acquire(ticket, 1, lambda: False)[0]
        try:
            if not worker.send(("call", function, args, kwargs)):
                raise PoolError(CALL_DIED)
            while not wait([worker.conn, worker.process.sentinel], timeout=1.0):
                pass
            try:
                reply = worker.conn.recv()
            except (EOFError, OSError):
                raise PoolError(CALL_DIED) from None
            if reply[0] == "result":
                return reply[1]
            raise (UserError if reply[2] else PoolError)(reply[1])
        finally:
            self.release(ticket, [worker])

    def runs_here(self) -> int:
        """Runs training now plus runs waiting in the queue: how busy the server is (the Train page
        redraws its live charts less often when many are)."""
        with self._cond:
            return len(self._active_runs) + len(self._waiting)

    def place(self, run_id) -> int:
        """1 for the next run to start, 2 for the one after, ...; 0 if not waiting."""
        with self._cond:
            return self._waiting.index(run_id) + 1 if run_id in self._waiting else 0

    def shutdown(self):
        """Stop every worker (at exit: no trainer process outlives the CLI or the server)."""
        with self._cond:
            self._closed = True
            workers = [*self._idle, *self._busy]
            self._idle, self._busy = [], set()
        for worker in workers:          # all at once: each takes a moment to exit
            worker.send(("quit",))
        for worker in workers:
            worker.retire(timeout=1.0)


_pools: dict = {}
_pools_lock = threading.Lock()


def shared_pool(size: int, threads: int = 1, max_runs: int | None = None,
                preload_torch: bool = True) -> WorkerPool:
    """This process's pool for these settings, created (and warmed up) on first use."""
    key = (size, threads, max_runs)
    with _pools_lock:
        if key not in _pools:
            _pools[key] = WorkerPool(size, threads, max_runs, preload_torch).warm_up()
        return _pools[key]


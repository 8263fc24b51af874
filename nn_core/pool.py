"""A warm pool of trainer processes, shared by every run of this process, with a first-come queue.

The pool keeps `size` worker processes (NN_WORKERS, default: the machine's cores) started before
anyone asks for one: each is forked, with NumPy and the project imported, from a forkserver that runs
at a lower CPU priority than the server (nn_core.forkserver_setup). Half of them (`torch_workers`,
rounded up) then import PyTorch too, while they start, so no click waits for that import; the others
never load it (torch costs a process ~260 MB), and they train the NumPy twins. (A torch that is not
installed is skipped; its twin's jobs then say how to install it.) A run asks for a place for each
twin: the PyTorch twin on a worker that has torch, the NumPy twin on another one while there are
enough, so on a quiet pool the twins train side by side. A worker trains all the twins it is
given, with an equal share of its time for each (nn_core.worker), so on a busy server every run
starts at once and the runs share the cores. Only beyond `max_runs` runs (NN_MAX_CONCURRENT_RUNS) do
runs wait, in a first-come queue. A run gives each place back as soon as its twin there has ended.

A worker that dies (killed, out of memory, a crash in native code) is replaced. One that has been
given `recycle_after` twins (RECYCLE_AFTER) is replaced too, so memory cannot creep: a fresh one
starts beside it at once (with torch if it had torch); the old one takes twins until the fresh one
is ready, so no run waits for it, and is retired once its last twin has ended.
"""

import atexit
import itertools
import multiprocessing
import multiprocessing.spawn
import threading
import time
import weakref
from collections import Counter, OrderedDict
from multiprocessing.connection import wait
from multiprocessing.reduction import send_handle

from . import worker as worker_module
from .errors import UserError

WORKER_DIED = "the trainer process stopped unexpectedly; train again."
CALL_DIED = "the trainer process stopped unexpectedly; try again."
TRAINERS_BUSY = ("every trainer process is busy with runs right now; try again when fewer runs are "
                 "training.")
CALL_WAIT = 30.0       # seconds a call() waits for a trainer process with no twin, then gives up
START_WAIT = 120.0     # seconds a new trainer process may take to import what it needs

RECYCLE_AFTER = 200    # twins given to one worker before it is replaced by a fresh one (a class of
                       # thirty clicking Train both gives each of two workers thirty)


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
    """One trainer process and the calling side of its pipe; `active` twins train there now."""

    _numbers = itertools.count(1)

    def __init__(self, context, threads: int, import_torch: bool = False):
        self.context = context
        self.conn, child_conn = context.Pipe(duplex=True)
        self.number = next(Worker._numbers)
        self.process = context.Process(target=worker_module.serve,
                                       args=(child_conn, threads, import_torch),
                                       name=f"{WORKER_NAME}{self.number}", daemon=True)
        self.process.start()
        child_conn.close()
        self.torch = False       # torch is imported there (it says so when ready, and after a call)
        self.jobs = 0            # twins given to it so far (counted by the pool)
        self.active = 0          # twins training there now (the pool counts them)
        self.kinds = Counter()   # the same, by impl ("numpy", "torch")
        self.reserved = False    # doing a call() for someone: no twins meanwhile
        self.splits = OrderedDict()   # keys of the splits it holds: worker.HeldSplits, mirrored
        self._send_lock = threading.Lock()

    def wait_ready(self, timeout: float = START_WAIT):
        """Wait for the worker's ("ready", has_torch); PoolError if it dies or takes too long."""
        try:
            message = self.conn.recv() if self.conn.poll(timeout) else None
        except (EOFError, OSError):       # it died while starting
            message = None
        if message is not None and message[0] == "ready":
            self.torch = message[1]
            return self
        self.retire(0.1)
        raise PoolError(f"a trainer process did not start within {timeout:.0f} s")

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

    def _split_to_send(self, key, split):
        """None if the worker holds this split already (the same rule as worker.HeldSplits)."""
        if key in self.splits:
            self.splits.move_to_end(key)
            return None
        self.splits[key] = True
        if len(self.splits) > worker_module.HELD_SPLITS:
            self.splits.popitem(last=False)
        return split

    def start_twin(self, job, split):
        """Send job (with `split` if the worker does not hold it); the twin's own end of its pipe,
        or None if the worker is gone."""
        ours, theirs = self.context.Pipe(duplex=True)
        try:
            with self._send_lock:
                job.split = self._split_to_send(job.split_key, split)
                self.conn.send(("train", job))
                send_handle(self.conn, theirs.fileno(), self.pid)   # straight through the pipe
        except (BrokenPipeError, ConnectionError, OSError):
            ours.close()
            return None
        finally:
            theirs.close()
            job.split = None
        return ours

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
    """`size` warm trainer processes shared by up to `max_runs` runs, behind a first-come queue."""

    def __init__(self, size: int, threads: int = 1, max_runs: int | None = None,
                 preload_torch: bool = True, recycle_after: int = RECYCLE_AFTER):
        self.size = max(1, int(size))
        self.recycle_after = recycle_after
        self.threads = threads
        self.max_runs = max_runs or self.size
        # Workers that import torch while they start: half of them, rounded up. (None: each worker
        # imports torch when it first trains a PyTorch twin, as the CLI does, whose NumPy twin
        # should not wait for it.)
        self.torch_workers = (self.size + 1) // 2 if preload_torch else 0
        self._context = multiprocessing.get_context("forkserver")
        self._context.set_forkserver_preload(
            ["nn_core.forkserver_setup", "nn_core.worker", "nn_core.data"])   # a Job unpickles a Split
        self._cond = threading.Condition()
        self._workers: list[Worker] = []
        self._starting = 0
        self._starting_torch = 0    # of those, workers importing torch
        self._waiting = []          # run ids, oldest first
        self._active_runs = set()
        self._turn = 0              # runs started: turns the order in which equal workers are used
        self._start_error = None
        self._closed = False
        self.started = 0            # worker processes started over the pool's life
        atexit.register(self.shutdown)

    # ---- workers --------------------------------------------------------------------------------
    def _fresh(self) -> list[Worker]:
        """Workers that have not been given their `recycle_after` twins yet (call under self._cond)."""
        return [w for w in self._workers if w.jobs < self.recycle_after]

    def warm_up(self):
        """Start the missing workers in the background (the first start waits for the forkserver);
        as many of them import torch as are needed to keep `torch_workers` workers with torch."""
        with self._cond:
            fresh = self._fresh()
            missing = max(0, self.size - len(fresh) - self._starting)
            with_torch = max(0, min(missing, self.torch_workers - self._starting_torch
                                    - sum(w.torch for w in fresh)))
            self._starting += missing
            self._starting_torch += with_torch
        for i in range(missing):
            threading.Thread(target=self._start_one, args=(i < with_torch,), name="nn-pool-start",
                             daemon=True).start()
        return self

    def _start_one(self, import_torch: bool):
        try:
            worker = Worker(self._context, self.threads, import_torch).wait_ready()
        except Exception as e:   # OSError (no processes / memory left), or a broken install
            with self._cond:
                self._starting -= 1
                self._starting_torch -= import_torch
                self._start_error = f"{type(e).__name__}: {e}"
                self._cond.notify_all()
            return
        with self._cond:
            self._starting -= 1
            self._starting_torch -= import_torch
            self.started += 1
            if self._closed:
                worker.retire(0.5)
                return
            self._start_error = None
            self._workers.append(worker)
            worn = self._worn_to_retire()
            self._cond.notify_all()
        for old in worn:
            old.retire()

    def _worn_to_retire(self) -> list[Worker]:
        """Worn-out workers with no twin left, once enough fresh ones serve: taken out of the pool
        (call under self._cond; retire them after). Until then a worn one still takes twins, so
        that no run waits while its replacement starts."""
        if len(self._fresh()) < self.size:
            return []
        worn = [w for w in self._workers
                if w.jobs >= self.recycle_after and w.active == 0 and not w.reserved]
        for worker in worn:
            self._workers.remove(worker)
        return worn

    def pids(self) -> list[int]:
        with self._cond:
            return [w.pid for w in self._workers]

    @property
    def idle(self) -> int:
        """Workers with nothing to do."""
        with self._cond:
            return sum(1 for w in self._workers if w.active == 0 and not w.reserved)

    def _open(self) -> list[Worker]:
        """Workers that may take another twin, least busy first (call under self._cond): the fresh
        ones, and worn-out ones while their replacements start. A worker found dead with no twin
        of any run is replaced here (one that had twins, when they end)."""
        dead = [w for w in self._workers if not w.alive and w.active == 0 and not w.reserved]
        for worker in dead:
            self._workers.remove(worker)
            worker.retire(0.1)
        if dead and not self._closed:
            self.warm_up()
        alive = [w for w in self._workers if w.alive and not w.reserved]
        fresh = [w for w in alive if w.jobs < self.recycle_after]
        worn = [w for w in alive if w.jobs >= self.recycle_after]
        usable = fresh + worn[:max(0, self.size - len(self._fresh()))]
        return sorted(usable, key=lambda w: w.active)

    # ---- the queue ------------------------------------------------------------------------------
    def acquire(self, run_id, impls, cancelled) -> list[Worker] | None:
        """Block until run_id is first in the queue, fewer than `max_runs` runs train, and workers
        can take its twins; then a worker for each twin of `impls`. The PyTorch twin goes to a
        worker that has torch (the one with the fewest PyTorch twins, then the least busy), the
        NumPy twin to another worker while there are enough (the one with the fewest NumPy twins,
        then the least busy, then one without torch). Every worker shares its time among its twins.
        (On a pool still starting, its workers are waited for: the twins of the first run should
        not share a worker when they need not, and no twin should wait for a worker's torch import.)

        None if cancelled() became true while waiting. Raises PoolError if workers cannot start.
        """
        need = len(impls)

        def enough() -> bool:
            open_ = self._open()
            if "torch" in impls and self._starting_torch and not any(w.torch for w in open_):
                return False
            return len(open_) >= min(need, self.size) or (bool(open_) and not self._starting)

        self.warm_up()
        with self._cond:
            self._waiting.append(run_id)
            try:
                while not (self._waiting[0] == run_id and len(self._active_runs) < self.max_runs
                           and enough()):
                    if cancelled():
                        return None
                    if self._start_error and not self._starting and not self._open():
                        raise PoolError(self._start_error)
                    self._cond.wait(0.1)
                self._turn += 1             # among equal workers, each run starts one further on
                open_, chosen = self._open(), {}
                for impl in sorted(impls, key=lambda impl: impl != "torch"):   # torch's twin first
                    others = [w for w in open_ if w not in chosen.values()] or open_
                    if impl == "torch":
                        others = [w for w in others if w.torch] or others
                    worker = min(others, key=lambda w: (w.kinds[impl], w.active, w.torch,
                                                        (w.number - self._turn) % 1024))
                    worker.active += 1
                    worker.kinds[impl] += 1
                    worker.jobs += 1
                    worker.torch = worker.torch or impl == "torch"
                    chosen[impl] = worker
                self._active_runs.add(run_id)
                if any(w.jobs == self.recycle_after for w in chosen.values()):
                    self.warm_up()          # a worn-out worker's replacement starts now
                return [chosen[impl] for impl in impls]
            finally:
                self._waiting.remove(run_id)
                self._cond.notify_all()

    def release(self, run_id, places, run_ended: bool = True):
        """Give back the twins' places: `places` holds (worker, impl) pairs (run_ended=False: while
        the run goes on with its other twins). A dead worker is replaced; a worn-out one is retired
        once its last twin has ended and its replacement (started when it took its
        `recycle_after`th twin) is ready."""
        gone = []
        with self._cond:
            if run_ended:
                self._active_runs.discard(run_id)
            for worker, impl in places:
                worker.active -= 1
                worker.kinds[impl] -= 1
                if worker in self._workers and (not worker.alive or self._closed):
                    self._workers.remove(worker)
                    gone.append(worker)
            gone += self._worn_to_retire()
            self._cond.notify_all()
        for worker in gone:
            worker.retire()
        if gone and not self._closed:
            self.warm_up()

    def call(self, function, *args, max_wait: float = CALL_WAIT, **kwargs):
        """function(*args, **kwargs) in a worker process with no twin to train. It waits up to
        `max_wait` seconds for one (outside the runs' queue: runs never wait for a call), then raises
        PoolError(TRAINERS_BUSY).

        For work that must be timed or isolated like training (the Speed page's measurements).
        A UserError raised there is raised here with the same sentence; other failures raise PoolError.
        """
        self.warm_up()
        deadline = time.monotonic() + max_wait
        with self._cond:
            while True:
                open_ = self._open()
                free = [w for w in open_ if w.active == 0]
                torch_starts = self._starting_torch and not any(w.torch for w in open_)
                if free and not torch_starts:     # (the call may need torch: wait for its import)
                    break
                if self._start_error and not self._starting and not self._open():
                    raise PoolError(self._start_error)
                if time.monotonic() > deadline:
                    raise PoolError(TRAINERS_BUSY)
                self._cond.wait(0.1)
            worker = min(free, key=lambda w: not w.torch)   # one with torch: the call may need it
            worker.reserved = True
        try:
            if not worker.send(("call", function, args, kwargs)):
                raise PoolError(CALL_DIED)
            while not wait([worker.conn, worker.process.sentinel], timeout=1.0):
                pass
            try:
                reply = worker.conn.recv()
            except (EOFError, OSError):
                raise PoolError(CALL_DIED) from None
            worker.torch = reply[-1]        # the call may have imported it
            if reply[0] == "result":
                return reply[1]
            raise (UserError if reply[2] else PoolError)(reply[1])
        finally:
            with self._cond:
                worker.reserved = False
                dead = not worker.alive and worker in self._workers
                if dead:
                    self._workers.remove(worker)
                self._cond.notify_all()
            if dead:
                worker.retire()
                self.warm_up()

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
            workers, self._workers = self._workers, []
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


"""A training run in background threads: start, pause, resume, step, stop, and a metrics buffer.

Plain threading, no streamlit: the app keeps a Run in st.session_state and a timed fragment reads
`records()`; the CLI drives the very same object. One worker thread per twin, so the NumPy twin's
first point never waits for torch to import, and each twin's samples/s is its own.

Runs on one server share a Scheduler that lets only `max_concurrent_runs` train at once; the others
wait in a first-come queue and can show their place in it.
"""

import itertools
import math
import threading
import time

from .config import TrainConfig
from .errors import UserError
from .limits import Limits
from .trainer import initial_params, make_twin, train

# Run.status values
QUEUED, RUNNING, PAUSED, DONE, STOPPED, DIVERGED, LIMIT, FAILED = (
    "queued", "running", "paused", "done", "stopped", "diverged", "limit", "failed")
FINISHED = (DONE, STOPPED, DIVERGED, LIMIT, FAILED)


class Scheduler:
    """A first-come queue in front of at most `slots` concurrently training runs."""

    def __init__(self, slots: int):
        self.slots = slots
        self._cond = threading.Condition()
        self._waiting = []   # runs' ids, oldest first
        self._active = set()

    def acquire(self, run_id, cancelled) -> bool:
        """Block until run_id may train; False if cancelled() became true while waiting."""
        with self._cond:
            self._waiting.append(run_id)
            try:
                while not (len(self._active) < self.slots and self._waiting[0] == run_id):
                    if cancelled():
                        return False
                    self._cond.wait(0.1)
                self._active.add(run_id)
                return True
            finally:
                self._waiting.remove(run_id)
                self._cond.notify_all()

    def release(self, run_id):
        with self._cond:
            self._active.discard(run_id)
            self._cond.notify_all()

    def place(self, run_id) -> int:
        """1 for the next run to start, 2 for the one after, ...; 0 if not waiting."""
        with self._cond:
            return self._waiting.index(run_id) + 1 if run_id in self._waiting else 0


_scheduler_lock = threading.Lock()
_schedulers: dict[int, Scheduler] = {}


def shared_scheduler(slots: int) -> Scheduler:
    """The server-wide scheduler for this number of slots (the only state shared across sessions)."""
    with _scheduler_lock:
        return _schedulers.setdefault(slots, Scheduler(slots))


class Run:
    """Train one or both twins on `split` with `config`, in background threads.

    records(impl) -> list of nn_core.trainer.Record so far; status; message; twins (the trained
    models, kept after the run ends for the other pages).
    """

    _ids = itertools.count(1)

    def __init__(self, config: TrainConfig, split, impls=("numpy", "torch"), limits: Limits | None = None,
                 scheduler: Scheduler | None = None, device=None, name: str | None = None):
        self.limits = limits or Limits()
        self.config = config.validated(self.limits)
        self.split = split
        self.impls = tuple(impls)
        self.id = next(Run._ids)
        self.name = name or f"run {self.id}"
        self.device = device
        self.scheduler = scheduler or shared_scheduler(self.limits.max_concurrent_runs)
        self.params0 = initial_params(self.config)        # both twins start from these
        self.twins = {}
        self.errors = {}                                  # impl -> message when that twin failed
        self._records = {impl: [] for impl in self.impls}
        self._final = {}                                  # impl -> last record's event
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._stop = threading.Event()
        self._paused = False
        self._step_tokens = {impl: 0 for impl in self.impls}
        self._threads = []
        self._started = False
        self._admitted = False
        self.started_at = None

    # ---- control -------------------------------------------------------------------------------
    def start(self):
        if self._started:
            return self
        self._started = True
        self.started_at = time.time()
        self._threads = [threading.Thread(target=self._work, name=f"nn-run{self.id}-{impl}",
                                          args=(impl,), daemon=True) for impl in self.impls]
        self._admission = threading.Thread(target=self._admit, name=f"nn-run{self.id}-queue",
                                           daemon=True)
        self._admission.start()
        return self

    def pause(self):
        with self._cond:
            self._paused = True

    def resume(self):
        with self._cond:
            self._paused = False
            self._cond.notify_all()

    def step(self):
        """While paused, let each twin take exactly one more step."""
        with self._cond:
            self._paused = True
            for impl in self.impls:
                self._step_tokens[impl] += 1
            self._cond.notify_all()

    def stop(self):
        self._stop.set()
        with self._cond:
            self._cond.notify_all()

    def join(self, timeout=None) -> bool:
        """Wait for every thread to end; True if they all did."""
        deadline = None if timeout is None else time.monotonic() + timeout
        for t in [getattr(self, "_admission", None), *self._threads]:
            if t is None or not t.is_alive() and t.ident is None:
                continue
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            t.join(left)
        return not self.alive

    # ---- state ---------------------------------------------------------------------------------
    @property
    def alive(self) -> bool:
        threads = [getattr(self, "_admission", None), *self._threads]
        return any(t is not None and t.is_alive() for t in threads)

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def status(self) -> str:
        if not self._started:
            return QUEUED
        with self._lock:
            if len(self._final) == len(self.impls):
                events = set(self._final.values())
                for status in (FAILED, DIVERGED, LIMIT, STOPPED):
                    if status in events:
                        return status
                return DONE
        if not self._admitted:
            return STOPPED if self._stop.is_set() and not self.alive else QUEUED
        return PAUSED if self._paused else RUNNING

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    def queue_place(self) -> int:
        return 0 if self._admitted else self.scheduler.place(self.id)

    def messages(self) -> dict:
        """impl -> the message its last record carried (why it ended), for finished twins."""
        with self._lock:
            return {impl: recs[-1].message for impl, recs in self._records.items()
                    if recs and recs[-1].message} | dict(self.errors)

    def records(self, impl, start=0):
        """A copy of impl's records from index `start` on (cheap: a list slice under the lock)."""
        with self._lock:
            return self._records[impl][start:]

    def latest(self, impl):
        with self._lock:
            recs = self._records[impl]
            return recs[-1] if recs else None

    # ---- workers -------------------------------------------------------------------------------
    def _admit(self):
        if not self.scheduler.acquire(self.id, self._stop.is_set):
            with self._lock:
                for impl in self.impls:
                    self._final[impl] = STOPPED
            return
        self._admitted = True
        try:
            for t in self._threads:
                t.start()
            for t in self._threads:
                t.join()
        except RuntimeError as e:  # "can't start new thread" on an overloaded server
            for t in self._threads:
                if t.ident is not None:
                    t.join()
            with self._lock:
                for impl in self.impls:
                    if impl not in self._final:
                        self._final[impl] = FAILED
                        self.errors[impl] = f"the server could not start a trainer ({e}); try again."
        finally:  # whatever happened, the slot goes back to the queue
            self.scheduler.release(self.id)

    def _wait_turn(self, impl) -> bool:
        with self._cond:
            while self._paused and self._step_tokens[impl] == 0 and not self._stop.is_set():
                self._cond.wait(0.2)
            if self._stop.is_set():
                return False
            if self._paused:
                self._step_tokens[impl] -= 1
            return True

    def _work(self, impl):
        event = FAILED
        try:
            twin = make_twin(impl, self.config, self.params0, device=self.device)
            self.twins[impl] = twin
            max_seconds = self.limits.max_seconds
            for record in train(twin, self.split, self.config, max_seconds=max_seconds,
                                wait_turn=lambda: self._wait_turn(impl)):
                with self._lock:
                    self._records[impl].append(record)
                if record.event not in (None, "epoch_end"):
                    event = {"done": DONE, "stopped": STOPPED, "diverged": DIVERGED,
                             "limit": LIMIT}[record.event]
        except ImportError:
            self.errors[impl] = ("PyTorch is not installed, so only the NumPy twin can train; "
                                 "install it with: pip install torch==2.13.0")
        except UserError as e:
            self.errors[impl] = str(e)
        except Exception as e:  # a bug: keep the app alive and say what happened
            self.errors[impl] = f"the {impl} twin failed: {type(e).__name__}: {e}"
        finally:
            with self._lock:
                self._final[impl] = event


def run_to_end(run: Run, poll=0.05):
    """Start run and block until it finishes (for the CLI, tests and benchmarks)."""
    run.start()
    while not run.join(timeout=poll):
        pass
    return run


def elapsed_text(seconds: float) -> str:
    return f"{seconds:.1f} s" if math.isfinite(seconds) else "-"

"""A training run: each twin trains in a worker process; this object drives it and holds its records.

No streamlit: the app keeps a Run in st.session_state and a timed fragment reads `records()`; the CLI
drives the very same object. The twins train in processes of the shared pool (nn_core.pool), so the
NumPy twin and the PyTorch twin never slow each other down. Here, in the calling process, one light
thread per run hands the twins to workers, each with a pipe of its own, forwards Pause / Step / Stop
along it, and files what comes back.

Beyond the server's cap on runs training at once, runs wait in the pool's first-come queue and show
their place.
"""

import itertools
import logging
import threading
import time
from multiprocessing.connection import wait

import numpy as np

from .config import TrainConfig
from .limits import Limits
from .model_io import SavedModel
from .pool import WORKER_DIED, PoolError, WorkerPool, shared_pool, split_key
from .threads import configured_threads
from .twins import initial_params
from .worker import CONTROLS, Job

# Run.status values
QUEUED, RUNNING, PAUSED, DONE, STOPPED, DIVERGED, LIMIT, FAILED = (
    "queued", "running", "paused", "done", "stopped", "diverged", "limit", "failed")
FINISHED = (DONE, STOPPED, DIVERGED, LIMIT, FAILED)
ENDING_EVENTS = {"done": DONE, "stopped": STOPPED, "diverged": DIVERGED, "limit": LIMIT}


def default_pool(limits: Limits, preload_torch: bool = True) -> WorkerPool:
    """The process-wide pool sized by the host's caps (NN_WORKERS, NN_MAX_CONCURRENT_RUNS, NN_THREADS)."""
    return shared_pool(limits.workers, configured_threads(), limits.max_concurrent_runs, preload_torch)


class TrainedTwin:
    """A twin as the calling process sees it: its latest weights, as NumPy arrays.

    params() -> [(W, b), ...] (read-only arrays, W of shape (fan_in, fan_out)), updated about once
    a second while the twin trains and exactly at its end; predict_proba(x (n, 784)) -> (n, 10).
    """

    def __init__(self, impl: str, params, activation: str):
        self.impl, self.activation = impl, activation
        self.update(params)

    def update(self, params):
        for W, b in params:
            W.flags.writeable = b.flags.writeable = False
        self._params = params

    def params(self):
        return self._params

    def predict_proba(self, x) -> np.ndarray:
        # The PyTorch twin's weights are evaluated by torch itself (imported here only when asked).
        from .evaluate import numpy_predictor, torch_predictor
        make = torch_predictor if self.impl == "torch" else numpy_predictor
        return make(SavedModel(self._params, self.activation))(x)


class Run:
    """Train one or both twins on `split` with `config`, each in a worker process.

    records(impl) -> list of nn_core.trainer.Record so far; status; messages(); twins (impl ->
    TrainedTwin, kept after the run ends for the other pages). config: already validated by the
    caller, at its boundary (the CLI's arguments, the app's click on Train). run_id: a number the
    caller chose (the run store's), else the next of this process's own; label: what the pages call
    the run ("run 3"), name: the label and what it trained ("run 3 · numpy, torch · sample.csv");
    on_end(run) is called from the run's thread once it has ended and its workers are back in the
    pool (to save it, for example).
    """

    _ids = itertools.count(1)

    def __init__(self, config: TrainConfig, split, impls=("numpy", "torch"), limits: Limits | None = None,
                 pool: WorkerPool | None = None, device=None, name: str | None = None,
                 run_id: int | None = None, on_end=None, label: str | None = None):
        self.limits = limits or Limits()
        self.config = config
        self.split = split
        self.impls = tuple(impls)
        self.id = next(Run._ids) if run_id is None else run_id
        self.on_end = on_end
        self.label = label or f"run {self.id}"
        self.name = name or self.label
        self.device = device
        self.pool = pool or default_pool(self.limits, preload_torch="torch" in self.impls)
        self.params0 = initial_params(self.config)        # both twins start from these
        self.twins = {}                                   # impl -> TrainedTwin
        self.errors = {}                                  # impl -> message when that twin failed
        self._records = {impl: [] for impl in self.impls}
        self._final = {}                                  # impl -> how that twin ended (a status)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.stop_reason = None                           # why the run was stopped, if not by its user
        self._paused = False
        self._step_tokens = {impl: 0 for impl in self.impls}   # Steps asked before a twin started
        self._training = {}                               # impl -> (Worker, the twin's pipe) now
        self._send_lock = threading.Lock()                # Pause, Step, Stop come from any thread
        self._driver = None
        self._admitted = False
        self.started_at = None

    # ---- control -------------------------------------------------------------------------------
    def start(self):
        if self._driver is None:
            self.started_at = time.time()
            self._driver = threading.Thread(target=self._drive, name=f"nn-run{self.id}", daemon=True)
            self._driver.start()
        return self

    def pause(self):
        self._control("pause")

    def resume(self):
        self._control("resume")

    def step(self):
        """While paused, let each twin take exactly one more step."""
        self._control("step")

    def stop(self, reason: str | None = None):
        """Stop both twins; `reason` replaces "stopped by the user" in their messages."""
        if reason and not self._stop.is_set():
            self.stop_reason = reason
        self._stop.set()
        self._control("stop")

    def _control(self, action: str):
        assert action in CONTROLS
        with self._lock:
            if action in ("pause", "step"):
                self._paused = True
            elif action == "resume":
                self._paused = False
            if action == "step":
                for impl in self.impls:
                    if impl not in self._training:
                        self._step_tokens[impl] += 1
            pipes = [conn for _, conn in self._training.values()]
        for conn in pipes:
            self._send(conn, (action,))

    def _send(self, conn, message) -> None:
        """Send a control along a twin's pipe. A pipe already closed is not an error: its twin has
        just ended, or its worker died, and the twin's reader (_read) reports which."""
        with self._send_lock:
            try:
                conn.send(message)
            except (BrokenPipeError, ConnectionError, OSError):
                return

    def join(self, timeout=None) -> bool:
        """Wait for the run to end; True if it has."""
        if self._driver is not None:
            self._driver.join(timeout)
        return not self.alive

    # ---- state ---------------------------------------------------------------------------------
    @property
    def alive(self) -> bool:
        return self._driver is not None and self._driver.is_alive()

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def status(self) -> str:
        if self._driver is None:
            return QUEUED
        with self._lock:
            if len(self._final) == len(self.impls):
                endings = set(self._final.values())
                for status in (FAILED, DIVERGED, LIMIT, STOPPED):
                    if status in endings:
                        return status
                return DONE
        if not self._admitted:
            return STOPPED if self._stop.is_set() and not self.alive else QUEUED
        return PAUSED if self._paused else RUNNING

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    def queue_place(self) -> int:
        return 0 if self._admitted else self.pool.place(self)

    def messages(self) -> dict:
        """impl -> the message its last record carried (why it ended), for finished twins."""
        with self._lock:
            said = {impl: recs[-1].message for impl, recs in self._records.items()
                    if recs and recs[-1].message}
            if self.stop_reason:
                said |= {impl: self.stop_reason for impl, ending in self._final.items() if ending == STOPPED}
            return said | dict(self.errors)

    def records(self, impl, start=0):
        """A copy of impl's records from index `start` on (cheap: a list slice under the lock)."""
        with self._lock:
            return self._records[impl][start:]

    def latest(self, impl):
        with self._lock:
            recs = self._records[impl]
            return recs[-1] if recs else None

    def worker_pids(self) -> dict:
        """impl -> process id of the worker training it right now."""
        with self._lock:
            return {impl: worker.pid for impl, (worker, _) in self._training.items()}

    # ---- the driver thread -----------------------------------------------------------------------
    def _end_all(self, status, message=None):
        with self._lock:
            for impl in self.impls:
                if impl not in self._final:
                    self._final[impl] = status
                    if message:
                        self.errors[impl] = message

    def _drive(self):
        try:
            self._train()
        finally:
            if self.on_end is not None:
                try:
                    self.on_end(self)
                except Exception:           # the caller's hook: logged, the run itself is fine
                    logging.getLogger(__name__).exception("run %s: on_end failed", self.id)

    def _train(self):
        try:
            workers = self.pool.acquire(self, self.impls, self._stop.is_set)
        except PoolError as e:
            self._end_all(FAILED, f"the server could not start a trainer process ({e}); try again.")
            return
        if workers is None:                 # stopped while waiting in the queue
            self._end_all(STOPPED)
            return
        self._admitted = True
        places = dict(zip(self.impls, workers))   # _train_on gives each back when its twin ends
        try:
            self._train_on(places)
        except Exception as e:              # a bug here: say so, and keep the caller alive
            self._end_all(FAILED, f"the run failed: {type(e).__name__}: {e}")
        finally:                            # whatever happened, the places go back to the pool
            with self._lock:
                pipes = [conn for _, conn in self._training.values()]
                self._training.clear()
            for conn in pipes:
                conn.close()
            self._end_all(FAILED, WORKER_DIED)   # twins whose worker could not be reached
            self.pool.release(self, [(worker, impl) for impl, worker in places.items()])

    def _assign(self, worker, impl):
        """Send impl's job to worker (with the data if the worker does not hold it); its pipe."""
        with self._lock:    # so that a Pause clicked meanwhile reaches the twin after its start
            job = Job(impl, self.config, self.params0, split_key(self.split), None,
                      self.limits.max_seconds, self.device, self._paused, self._step_tokens[impl])
            conn = worker.start_twin(job, self.split)
            if conn is not None:
                self._training[impl] = (worker, conn)
        if conn is not None and self._stop.is_set():
            self._send(conn, ("stop",))
        return conn

    def _train_on(self, places):
        """Start each twin on its worker and file what comes back until every twin has ended. Each
        twin's place goes back to the pool as soon as that twin has ended (and leaves `places`)."""
        if self._stop.is_set():
            self._end_all(STOPPED)
            return
        training = {}                                   # the twin's pipe -> impl
        for impl, worker in places.items():
            conn = self._assign(worker, impl)
            if conn is not None:
                training[conn] = impl
        while training:
            sentinels = {places[impl].process.sentinel: impl for impl in training.values()}
            ready = set(wait([*training, *sentinels], timeout=0.5))
            ended = {conn for conn, impl in training.items()
                     if (conn in ready or places[impl].process.sentinel in ready)
                     and self._read(conn, places[impl], impl)}
            for conn in ended:
                impl = training.pop(conn)
                with self._lock:
                    self._training.pop(impl, None)
                conn.close()
                self.pool.release(self, [(places.pop(impl), impl)], run_ended=False)

    def _read(self, conn, worker, impl) -> bool:
        """File every message waiting on impl's pipe; True once impl has ended (or its worker died)."""
        try:
            while conn.poll():
                kind, payload = conn.recv()
                if kind == "records":
                    self._file_records(impl, payload)
                elif kind == "params":
                    self._file_params(impl, payload)
                elif kind == "end":
                    self._file_end(impl, payload)
                    return True
        except (EOFError, OSError):         # the pipe closed without "end": the worker died
            worker.process.join(1.0)
        else:
            if worker.alive:
                return False
        with self._lock:                     # died without saying "end": killed, out of memory, ...
            self._final[impl] = FAILED
            self.errors[impl] = WORKER_DIED
        return True

    def _file_records(self, impl, records):
        with self._lock:
            self._records[impl].extend(records)

    def _file_params(self, impl, params):
        twin = self.twins.get(impl)
        if twin is None:
            self.twins[impl] = TrainedTwin(impl, params, self.config.activation)
        else:
            twin.update(params)

    def _file_end(self, impl, error):
        with self._lock:
            records = self._records[impl]
            if error:
                self.errors[impl] = error
                self._final[impl] = FAILED
            else:
                event = records[-1].event if records else None
                self._final[impl] = ENDING_EVENTS.get(event, FAILED)


def run_to_end(run: Run, poll=0.05):
    """Start run and block until it finishes (for the CLI, tests and benchmarks)."""
    run.start()
    while not run.join(timeout=poll):
        pass
    return run

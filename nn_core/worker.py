"""A trainer process: it trains the twins it is given, several at once, step by step with an equal
share of its time for each, and streams each twin's records back over that twin's own pipe.

Each twin of a run trains in a process of the shared pool (nn_core.pool starts them), so the two
twins never share a Python interpreter (the GIL) or a BLAS thread pool. On a busy server (a class
of thirty) every run starts at once: a trainer shares its time among its twins, instead of making
runs wait for a free trainer. A twin's speed is timed over its own steps only (nn_core.trainer), so
sharing a trainer does not change the samples/s it shows, and with equal shares each twin still
moves at its own pace: the NumPy twin ahead of the PyTorch twin when it is faster.

Messages are plain tuples over multiprocessing Pipes.
The worker's own pipe:
    worker -> calling process: ("ready", has_torch)         once, when it is ready to train
    calling process -> worker: ("train", Job), then the twin's end of a new Pipe, passed as a file
                               descriptor over this pipe (multiprocessing.reduction.send_handle)
                               ("call", function, args, kwargs)   any other work (the Speed page's
                                                                   timing), answered on this pipe:
                               ("result", value, has_torch) or
                               ("error", sentence, is_user_error, has_torch)
                               ("quit",)
A twin's own pipe:
    calling process -> worker: ("pause",), ("resume",), ("step",), ("stop",)
    worker -> calling process: ("records", [Record, ...])   a few times a second, and at every event
                               ("params", [(W, b), ...])     the twin's weights, about once a second
                               ("end", error or None)        the twin is done
A worker whose calling process goes away (its pipe closes) exits; a twin whose pipe closes is dropped.
"""

import math
import os
import signal
import sys
import time
from collections import OrderedDict
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from multiprocessing.reduction import recv_handle

from .config import TrainConfig
from .errors import UserError
from .optional_torch import INSTALL_TORCH
from .threads import limit_threads
from .trainer import train
from .twins import make_twin

NICENESS = 5          # trainer processes yield the CPU to the server (see nn_core.forkserver_setup)
RECORDS_EVERY = 0.1   # seconds between batches of records sent back while training, and
PARAMS_EVERY = 1.0    # between snapshots of the weights (for the weight images); both times the
                      # number of twins in the worker, so a busy worker sends no more than a quiet one
LOOK_EVERY = 0.005    # seconds between two looks at the pipes while twins are stepping
HELD_SPLITS = 4       # datasets a worker keeps in memory for the next twins (nn_core.pool mirrors it)
CONTROLS = ("pause", "resume", "step", "stop")
ENDINGS = ("done", "stopped", "diverged", "limit")   # events of a twin's last record
TORCH_MISSING = ("PyTorch is not installed, so only the NumPy twin can train; "
                 f"install it with: {INSTALL_TORCH}")


@dataclass
class Job:
    """One twin to train. `split` is None when the worker already holds the data of `split_key`."""
    impl: str
    config: TrainConfig
    params0: list            # [(W, b), ...] the run's initial weights, the same for both twins
    split_key: int           # names the split, so the data crosses the pipe once per worker
    split: object | None     # nn_core.data.Split
    max_seconds: float
    device: str | None = None
    paused: bool = False     # the run's state when this twin starts
    step_tokens: int = 0


class ParentGone(Exception):
    """The calling process closed its end of the pipe (it exited, was killed, or dropped the twin)."""


class HeldSplits:
    """The last HELD_SPLITS datasets sent here, by key, least recently used first. The calling side
    (nn_core.pool.Worker) applies the same rule to the same jobs in the same order, so it knows
    which jobs can be sent without their data."""

    def __init__(self):
        self._splits = OrderedDict()

    def take(self, key, split):
        """The split for a job: `split` itself (kept for later), or the one held under `key`."""
        if split is not None:
            self._splits[key] = split
            if len(self._splits) > HELD_SPLITS:
                self._splits.popitem(last=False)
        elif key in self._splits:
            self._splits.move_to_end(key)
        return self._splits.get(key)


class Controls:
    """Pause, Step and Stop as the calling process last asked, read from the twin's pipe."""

    def __init__(self, conn, job: Job):
        self.conn = conn
        self.paused, self.step_tokens, self.stopped = job.paused, job.step_tokens, False

    def handle(self, message):
        kind = message[0]
        if kind == "pause":
            self.paused = True
        elif kind == "resume":
            self.paused = False
        elif kind == "step":
            self.paused = True
            self.step_tokens += 1
        elif kind == "stop":
            self.stopped = True

    def read(self):
        """Apply every message waiting on the pipe."""
        try:
            while self.conn.poll():
                self.handle(self.conn.recv())
        except (EOFError, OSError):
            raise ParentGone from None

    @property
    def must_wait(self) -> bool:
        return self.paused and self.step_tokens == 0 and not self.stopped

    def may_step(self) -> bool:
        """train()'s wait_turn: False to stop; a step while paused uses up one Step."""
        if self.stopped:
            return False
        if self.paused:
            self.step_tokens -= 1
        return True


class Outbox:
    """Collects records and sends them in batches, with a snapshot of the weights now and then.
    `sharing()` is the number of twins training in this worker: each sends that much less often."""

    def __init__(self, conn, twin, sharing=lambda: 1):
        self.conn, self.twin, self.sharing = conn, twin, sharing
        self.records = []
        self.last_records = self.last_params = -math.inf

    def add(self, record):
        self.records.append(record)
        if record.event is not None or \
                time.monotonic() - self.last_records >= RECORDS_EVERY * self.sharing():
            self.flush()

    def flush(self, with_params=False):
        now = time.monotonic()
        try:
            if self.records:
                self.conn.send(("records", self.records))
                self.records = []
            if with_params or now - self.last_params >= PARAMS_EVERY * self.sharing():
                self.conn.send(("params", self.twin.params()))
                self.last_params = now
        except (BrokenPipeError, ConnectionError, OSError):
            raise ParentGone from None
        self.last_records = now


class TwinInTraining:
    """One twin being trained in this process: its steps (nn_core.trainer.train), its controls and
    its outbox. advance() takes one step; the worker calls it for each of its twins in turn."""

    def __init__(self, conn, job: Job, twin, split, sharing=lambda: 1):
        self.conn, self.impl = conn, job.impl
        self.controls = Controls(conn, job)
        self.outbox = Outbox(conn, twin, sharing)
        self.steps = train(twin, split, job.config, max_seconds=job.max_seconds,
                           wait_turn=self.controls.may_step)
        self.error = None
        self.showed_pause = False
        self.used = 0.0          # seconds of this worker's time the twin has had (serve() shares it)

    @property
    def waiting(self) -> bool:
        """Paused with no Step to take: skipped until a control arrives."""
        if not self.controls.must_wait:
            self.showed_pause = False
            return False
        if not self.showed_pause:
            self.outbox.flush(with_params=True)    # show exactly where the twin paused
            self.showed_pause = True
        return True

    def advance(self) -> bool:
        """Take one step (or stop); True once the twin has ended."""
        try:
            record = next(self.steps)
        except StopIteration:
            return True
        except UserError as e:
            self.error = str(e)
            return True
        except Exception as e:  # a bug: say what happened, keep the worker serving its other twins
            self.error = f"the {self.impl} twin failed: {type(e).__name__}: {e}"
            return True
        self.outbox.add(record)
        return record.event in ENDINGS

    def finish(self):
        """Send what is left, the final weights and the end, and close the twin's pipe."""
        try:
            self.outbox.flush(with_params=True)
            self.conn.send(("end", self.error))
        except (ParentGone, BrokenPipeError, ConnectionError, OSError):
            pass
        self.steps.close()
        self.conn.close()


def start_twin(conn, job: Job, split, sharing=lambda: 1) -> TwinInTraining | str:
    """The twin of `job`, ready to take its first step; or the sentence saying why it cannot."""
    if split is None:
        return "the trainer process lost its data; train again."
    try:
        twin = make_twin(job.impl, job.config, job.params0, device=job.device)
    except ImportError:
        return TORCH_MISSING
    except Exception as e:  # e.g. a device that cannot be used
        return f"the {job.impl} twin could not start: {type(e).__name__}: {e}"
    return TwinInTraining(conn, job, twin, split, sharing)


def has_torch() -> bool:
    return "torch" in sys.modules


def import_torch() -> None:
    """Import what the PyTorch twin needs, now rather than at its first step: torch, and
    torch._dynamo, which torch.optim imports at the first optimizer built (1.8 s here)."""
    try:
        import torch._dynamo  # noqa: F401

        from . import torch_twin  # noqa: F401
    except Exception:     # not installed, or broken: the PyTorch twin's job will say so
        pass


def call(function, args, kwargs):
    """function(*args, **kwargs) here, as the message to send back."""
    try:
        return ("result", function(*args, **kwargs), has_torch())
    except UserError as e:
        return ("error", str(e), True, has_torch())
    except Exception as e:  # a bug: one sentence for the caller, the worker keeps serving
        return ("error", f"{getattr(function, '__name__', 'the call')} failed: {type(e).__name__}: {e}",
                False, has_torch())


def send_answer(conn, answer) -> None:
    """Send a call's answer; one that cannot be pickled becomes an error (the worker keeps serving)."""
    try:
        conn.send(answer)
    except (TypeError, AttributeError, ValueError) as e:    # pickling failed before anything was sent
        conn.send(("error", f"the answer could not be sent back: {type(e).__name__}: {e}", False,
                   has_torch()))


def serve(conn, threads: int, with_torch: bool = False) -> None:
    """A worker's whole life: take twins, give each an equal share of the time, report each end;
    until told to quit.

    The twin to step next is the one that has had the least time so far (not simply the next in
    line): a NumPy step may take a third of a PyTorch step, and each twin should move at its own
    speed, as if it had a core to itself, only slower. A twin that comes back from a pause does not
    get the time it missed.

    with_torch: import torch before saying it is ready (else only when a PyTorch twin comes)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)   # Ctrl-C is for the calling process, which stops us
    # The thread caps, for a torch imported later too (by a PyTorch twin or a call): torch reads these
    # when it starts its thread pools. Uncapped, its two threads on a busy 2-core machine made each
    # PyTorch step ~20x slower (they wait for each other).
    os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = str(threads)
    limit_threads(threads)
    if with_torch:
        import_torch()
        limit_threads(threads)
    try:
        conn.send(("ready", has_torch()))
    except (BrokenPipeError, ConnectionError, OSError):
        return
    splits = HeldSplits()
    twins: list[TwinInTraining] = []
    floor = 0.0                   # the least time any stepping twin has had
    last_look = -math.inf

    def drop(twin):               # the calling side let go of this twin
        twins.remove(twin)
        twin.steps.close()
        twin.conn.close()

    while True:
        stepping = []
        for twin in list(twins):
            try:
                if not twin.waiting:
                    stepping.append(twin)
            except ParentGone:
                drop(twin)
        if not stepping or time.monotonic() - last_look >= LOOK_EVERY:
            try:                  # new twins, controls, a call or quit: at least every LOOK_EVERY s
                ready = wait([conn, *(t.conn for t in twins)], timeout=0 if stepping else 0.5)
                last_look = time.monotonic()
                if conn in ready:
                    message = conn.recv()
                    if message[0] == "quit":
                        return
                    if message[0] == "call":
                        send_answer(conn, call(*message[1:]))
                    elif message[0] == "train":
                        job, twin_conn = message[1], Connection(recv_handle(conn))
                        twin = start_twin(twin_conn, job, splits.take(job.split_key, job.split),
                                          sharing=lambda: len(twins))
                        if isinstance(twin, str):
                            twin_conn.send(("end", twin))
                            twin_conn.close()
                        else:
                            twin.used = floor
                            twins.append(twin)
            except (EOFError, OSError):
                return            # the calling process is gone
            for twin in [t for t in twins if t.conn in ready]:
                try:
                    twin.controls.read()
                except ParentGone:
                    drop(twin)
            continue
        for twin in stepping:
            twin.used = max(twin.used, floor)
        twin = min(stepping, key=lambda t: t.used)
        floor = twin.used
        started = time.perf_counter()
        try:
            if twin.advance():
                twins.remove(twin)
                twin.finish()
        except ParentGone:
            drop(twin)
        twin.used += time.perf_counter() - started

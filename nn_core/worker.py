"""A trainer process: it trains one twin at a time and streams the records back over a pipe.

Each twin of a run trains in a process of its own (nn_core.pool starts them), so the two twins never
share a Python interpreter (the GIL) or a BLAS thread pool, and each runs at its own speed.

Messages are plain tuples over one multiprocessing Pipe:
    calling process -> worker: ("train", Job), ("pause",), ("resume",), ("step",), ("stop",), ("quit",)
                               ("call", function, args, kwargs)   any other work (the Speed page's timing)
    worker -> calling process: ("records", [Record, ...])   a few times a second, and at every event
                               ("params", [(W, b), ...])     the twin's weights, about once a second
                               ("end", error or None)        the twin is done; the worker is free again
                               ("result", value) or ("error", sentence, is_user_error)   for a "call"
A worker whose calling process goes away (the pipe closes) exits at its next look at the pipe.
"""

import math
import signal
import time
from dataclasses import dataclass

from .config import TrainConfig
from .errors import UserError
from .optional_torch import INSTALL_TORCH
from .threads import limit_threads
from .trainer import train
from .twins import make_twin

NICENESS = 5          # trainer processes yield the CPU to the server (see nn_core.forkserver_setup)
RECORDS_EVERY = 0.1   # seconds between batches of records sent back while training
PARAMS_EVERY = 1.0    # seconds between snapshots of the weights (for the weight images)
CONTROLS = ("pause", "resume", "step", "stop")
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
    """The calling process closed its end of the pipe (it exited or was killed)."""


class Controls:
    """Pause, Step and Stop as the calling process last asked; read between two training steps."""

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
        elif kind in ("stop", "quit"):
            self.stopped = True

    def read(self, timeout=0.0):
        """Apply every message waiting on the pipe (waiting up to `timeout` s for the first)."""
        try:
            while self.conn.poll(timeout):
                self.handle(self.conn.recv())
                timeout = 0.0
        except (EOFError, OSError):
            raise ParentGone from None

    @property
    def must_wait(self) -> bool:
        return self.paused and self.step_tokens == 0 and not self.stopped


class Outbox:
    """Collects records and sends them in batches, with a snapshot of the weights now and then."""

    def __init__(self, conn, twin):
        self.conn, self.twin = conn, twin
        self.records = []
        self.last_records = self.last_params = -math.inf

    def add(self, record):
        self.records.append(record)
        if record.event is not None or time.monotonic() - self.last_records >= RECORDS_EVERY:
            self.flush()

    def flush(self, with_params=False):
        now = time.monotonic()
        try:
            if self.records:
                self.conn.send(("records", self.records))
                self.records = []
            if with_params or now - self.last_params >= PARAMS_EVERY:
                self.conn.send(("params", self.twin.params()))
                self.last_params = now
        except (BrokenPipeError, ConnectionError, OSError):
            raise ParentGone from None
        self.last_records = now


def train_job(conn, job: Job, split) -> str | None:
    """Train job's twin on split, streaming its records to conn; the error sentence, or None."""
    controls = Controls(conn, job)
    try:
        twin = make_twin(job.impl, job.config, job.params0, device=job.device)
    except ImportError:
        return TORCH_MISSING
    except Exception as e:  # e.g. a device that cannot be used
        return f"the {job.impl} twin could not start: {type(e).__name__}: {e}"
    outbox = Outbox(conn, twin)

    def wait_turn() -> bool:
        controls.read()
        if controls.must_wait:
            outbox.flush(with_params=True)    # show exactly where the twin paused
            while controls.must_wait:
                controls.read(timeout=0.5)
        if controls.stopped:
            return False
        if controls.paused:
            controls.step_tokens -= 1
        return True

    try:
        for record in train(twin, split, job.config, max_seconds=job.max_seconds, wait_turn=wait_turn):
            outbox.add(record)
    except ParentGone:
        raise
    except UserError as e:
        return str(e)
    except Exception as e:  # a bug: say what happened, keep the worker serving
        return f"the {job.impl} twin failed: {type(e).__name__}: {e}"
    finally:
        try:
            outbox.flush(with_params=True)
        except ParentGone:
            pass
    return None


def call(function, args, kwargs):
    """function(*args, **kwargs) here, as the message to send back."""
    try:
        return ("result", function(*args, **kwargs))
    except UserError as e:
        return ("error", str(e), True)
    except Exception as e:  # a bug: one sentence for the caller, the worker keeps serving
        return ("error", f"{getattr(function, '__name__', 'the call')} failed: {type(e).__name__}: {e}", False)


def serve(conn, threads: int) -> None:
    """A worker's whole life: wait for a job, train it, report its end; until told to quit."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)   # Ctrl-C is for the calling process, which stops us
    limit_threads(threads)
    held_key, held_split = None, None               # the last job's data, kept for the next one
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return                                  # the calling process is gone
        if message[0] == "quit":
            return
        if message[0] == "call":
            try:
                conn.send(call(*message[1:]))
            except (BrokenPipeError, ConnectionError, OSError):
                return
            continue
        if message[0] != "train":
            continue                                # a Pause or Stop for a twin that has ended
        job = message[1]
        if job.split is not None:
            held_key, held_split = job.split_key, job.split
        elif job.split_key != held_key:
            conn.send(("end", "the trainer process lost its data; train again."))
            continue
        try:
            error = train_job(conn, job, held_split)
            conn.send(("end", error))
        except (ParentGone, BrokenPipeError, ConnectionError, EOFError, OSError):
            return

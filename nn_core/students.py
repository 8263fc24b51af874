"""Every student's runs, server-wide: a run outlives its page, and finished runs come back from the store.

A student is a random token their browser keeps (app_support.identity); all pages of one student
(tabs, reloads) share one list of runs, the very list object, so a page that comes back finds the
run it left training and draws it live. Each page attaches while its session lives and detaches
when it goes. A student who has had no page for `orphan_seconds` gets their unfinished runs stopped,
with a sentence saying why (runs also stop at the host's wall-time cap, as always).

A student's controlled experiments (nn_core.experiments) are kept beside their Train runs, in
a list of their own: starting an experiment stops the previous experiment's runs, starting a Train
run stops the older Train runs, and neither stops the other. Everything else is the same for both.

Each run is in the store from its start, and saved with its records and final weights when it ends,
so a server restart finds every finished run (and marks those that were training as interrupted:
nn_core.store.RunStore.mark_interrupted). No streamlit here: the app passes the store, the caps and
a way to rebuild a stored run's data split.
"""

from __future__ import annotations

import atexit
import itertools
import logging
import sqlite3
import threading
import time
from dataclasses import dataclass, field

import numpy as np

from .data import Split
from .errors import UserError
from .experiments import Experiment, ExperimentRuns, experiment_from_spec
from .limits import Limits
from .pool import WORKER_DIED
from .run import FINISHED, Run, TrainedTwin
from .store import DatasetRef, RunRow, RunStore

SWEEP_EVERY = 1.0      # seconds between looks for students who left (and runs to stop)
# A server stopped with its whole process group (systemd, a test harness) sees its trainer processes
# die a moment before it exits itself: a run whose every failure is a dead trainer waits this long
# before it is saved, and is not saved if the server is stopping (so it will read "interrupted").
STOPPING_GRACE = 3.0
ORPHANED = ("stopped because no page of yours was open for {seconds:g} s (this server's "
            "NN_ORPHAN_SECONDS); start it again.")

log = logging.getLogger(__name__)
_unsaved_ids = itertools.count(-1, -1)     # ids of runs the store could not take: never clash with its own


def placeholder_split(n_train: int) -> Split:
    """Stands in for the split of a stored run whose dataset is gone: only its size is right."""
    return Split(np.zeros((1, 784), np.float32), np.zeros(n_train, np.int64),
                 np.zeros((0, 784), np.float32), np.zeros(0, np.int64))


class StoredRun:
    """A finished run read back from the store: the read side of nn_core.run.Run, and no-op controls.

    Its records, final weights and data split are read on first use, and let go by forget().
    """

    alive = paused = False
    finished = True

    def __init__(self, row: RunRow, store: RunStore, split_loader=None):
        self.row, self.store, self._split_loader = row, store, split_loader
        self.id, self.name, self.config, self.impls = row.id, row.name, row.config, row.impls
        self.label = row.label or f"run {row.number}"
        self.status, self.started_at, self.dataset = row.status, row.started_at, row.dataset
        self.errors = dict(row.errors)
        self.split_problem = None          # why the run's own data could not be rebuilt, if so
        self.forget()

    def forget(self):
        """Let go of what was read (records, weights, split); it is read again when asked for."""
        self._records = self._twins = self._split = None

    def records(self, impl, start=0):
        if self._records is None:
            self._records = self.store.records_of(self.id)
        return self._records.get(impl, [])[start:]

    def latest(self, impl):
        records = self.records(impl)
        return records[-1] if records else None

    @property
    def twins(self) -> dict:
        if self._twins is None:
            self._twins = {impl: TrainedTwin(impl, model.params, model.activation)
                           for impl, model in self.store.weights_of(self.id).items()}
        return self._twins

    @property
    def split(self) -> Split:
        if self._split is None:
            try:
                self._split = self._split_loader(self.dataset, self.row.student, self.config)
            except (UserError, TypeError) as e:       # the dataset is gone (or no loader was given)
                self.split_problem = str(e) if isinstance(e, UserError) else "its data is not at hand"
                self._split = placeholder_split(self.row.n_train)
        return self._split

    def messages(self) -> dict:
        return dict(self.row.messages) | self.errors

    def queue_place(self) -> int:
        return 0

    def worker_pids(self) -> dict:
        return {}

    def join(self, timeout=None) -> bool:
        return True

    def stop(self, reason=None):
        pass

    pause = resume = step = start = stop


@dataclass
class Student:
    token: str
    runs: list = field(default_factory=list)    # Run or StoredRun, oldest first; pages hold this list
    next_number: int = 1
    experiments: list = field(default_factory=list)    # ExperimentRuns, oldest first
    next_experiment: int = 1
    pages: int = 0                               # pages (browser sessions) attached now
    alone_since: float | None = None             # clock time the last page went away


class Students:
    """token -> Student, for the whole server; the store behind it. Thread-safe.

    split_loader(dataset_ref, student_token, config) -> Split rebuilds a stored run's data (raises
    UserError if that dataset is gone). save_problem: a sentence while the store cannot save runs.
    """

    def __init__(self, store: RunStore, limits: Limits | None = None, split_loader=None,
                 clock=time.monotonic, sweep_every: float | None = SWEEP_EVERY):
        limits = limits or Limits()
        self.store, self.split_loader, self.clock = store, split_loader, clock
        self.orphan_seconds, self.keep_days, self.keep_runs = (
            limits.orphan_seconds, limits.keep_days, limits.keep_runs)
        self.save_problem = None           # one sentence once saving failed
        self.open_problem = None           # one sentence when the store could not be opened as it was
        self._students: dict[str, Student] = {}
        self._lock = threading.RLock()
        self.closing = False
        atexit.register(self.close)    # runs before the pool's (registered earlier), which ends the runs
        if sweep_every:
            threading.Thread(target=self._sweep_forever, args=(sweep_every,), name="nn-students",
                             daemon=True).start()

    # ---- a student's runs --------------------------------------------------------------------------
    def _student(self, token: str) -> Student:
        with self._lock:
            student = self._students.get(token)
            if student is None:
                student = self._students[token] = Student(token)
                try:
                    rows = self.store.runs_of(token)
                except sqlite3.Error as e:
                    self.note_problem(e)
                    rows = []
                trained = [row for row in rows if row.experiment_id is None]
                student.runs.extend(StoredRun(row, self.store, self.split_loader) for row in trained)
                student.next_number = max((row.number for row in trained), default=0) + 1
                student.experiments.extend(self._stored_experiments(token, rows))
                student.next_experiment = max((e.number for e in student.experiments), default=0) + 1
            return student

    def _stored_experiments(self, token: str, rows: list[RunRow]) -> list[ExperimentRuns]:
        """The student's experiments in the store, each with its stored runs in the order started."""
        try:
            stored = self.store.experiments_of(token)
        except sqlite3.Error as e:
            self.note_problem(e)
            return []
        made = []
        for row in stored:
            runs = [StoredRun(r, self.store, self.split_loader) for r in rows if r.experiment_id == row.id]
            if runs:
                experiment, impl = experiment_from_spec(row.spec)
                made.append(ExperimentRuns(experiment, impl, runs, row.id, row.number))
        return made

    def _all_runs(self, student: Student) -> list:
        """The student's Train runs and their experiments' runs."""
        return [*student.runs, *(run for e in student.experiments for run in e.runs)]

    def runs(self, token: str) -> list:
        """The student's runs, oldest first: always the same list object for the same token."""
        return self._student(token).runs

    def start(self, token: str, config, split, impls, dataset: DatasetRef, *, limits: Limits,
              pool=None, data_name: str | None = None) -> Run:
        """A new run for the student, in the store from now on; their older unfinished runs stop.

        config: validated by the caller; dataset: how to find its data again; data_name: how the
        run's name calls it (default: the reference's name)."""
        student = self._student(token)
        with self._lock:
            for old in student.runs:
                if not old.finished:
                    old.stop()
            number, student.next_number = student.next_number, student.next_number + 1
        label = f"run {number}"
        name = f"{label} · {', '.join(impls)} · {data_name or dataset.name}"
        try:
            run_id = self.store.add_run(token, number, name, impls, config, dataset, len(split.y_train))
        except sqlite3.Error as e:
            self.note_problem(e)
            run_id = next(_unsaved_ids)
        run = Run(config, split, impls=impls, limits=limits, pool=pool, name=name, label=label,
                  run_id=run_id, on_end=self.save if run_id > 0 else None)
        with self._lock:
            student.runs.append(run)
        run.start()
        return run

    def start_experiment(self, token: str, experiment: Experiment, split, impl: str, dataset: DatasetRef,
                         *, limits: Limits, pool=None, data_name: str | None = None) -> ExperimentRuns:
        """The experiment's runs (one per value, labelled like 'lr=0.1'), in the store from now on and
        started; the student's previous experiment's unfinished runs stop (not their Train run)."""
        student = self._student(token)
        with self._lock:
            for old in student.experiments:
                for run in old.runs:
                    if not run.finished:
                        run.stop()
            number, student.next_experiment = student.next_experiment, student.next_experiment + 1
        started = ExperimentRuns(experiment, impl, [], number=number)
        try:
            started.id = self.store.add_experiment(token, number, started.spec())
        except sqlite3.Error as e:
            self.note_problem(e)
        for config, label in zip(experiment.configs(), experiment.labels):
            name = f"experiment {number} · {label} · {impl} · {data_name or dataset.name}"
            run_id = next(_unsaved_ids)
            if started.id:
                try:
                    run_id = self.store.add_run(token, number, name, (impl,), config, dataset,
                                                len(split.y_train), experiment_id=started.id, label=label)
                except sqlite3.Error as e:
                    self.note_problem(e)
            started.runs.append(Run(config, split, impls=(impl,), limits=limits, pool=pool, name=name,
                                    label=label, run_id=run_id, on_end=self.save if run_id > 0 else None))
        with self._lock:
            student.experiments.append(started)
        for run in started.runs:
            run.start()
        return started

    def latest_experiment(self, token: str) -> ExperimentRuns | None:
        """The student's newest experiment (its runs live or stored), or None."""
        experiments = self._student(token).experiments
        return experiments[-1] if experiments else None

    def close(self) -> None:
        """The server is stopping: runs still training stay marked as training in the store, so the
        next server start calls them interrupted (their workers are about to be stopped, and what
        that does to a run is not how it ended)."""
        self.closing = True

    def save(self, run: Run) -> None:
        """Keep a run that ended: status, messages, every record, the final weights; then prune."""
        if run.errors and set(run.errors.values()) == {WORKER_DIED}:
            deadline = time.monotonic() + STOPPING_GRACE
            while not self.closing and time.monotonic() < deadline:
                time.sleep(0.05)
        if self.closing:
            return
        errors = dict(run.errors)
        messages = {impl: text for impl, text in run.messages().items() if impl not in errors}
        try:
            self.store.finish_run(run.id, run.status, messages, errors,
                                  {impl: run.records(impl) for impl in run.impls},
                                  {impl: twin.params() for impl, twin in list(run.twins.items())},
                                  run.config.activation)
            self.prune()
        except (sqlite3.Error, OSError) as e:
            self.note_problem(e)

    def prune(self, now: float | None = None) -> list[int]:
        """Apply the store's limits (NN_KEEP_DAYS, NN_KEEP_RUNS); pages stop listing what went."""
        gone = set(self.store.prune(self.keep_days, self.keep_runs, now))
        if gone:
            with self._lock:
                for student in self._students.values():
                    student.runs[:] = [r for r in student.runs if r.id not in gone]
                    for experiment in student.experiments:
                        experiment.runs[:] = [r for r in experiment.runs if r.id not in gone]
                    student.experiments[:] = [e for e in student.experiments if e.runs]
        return sorted(gone)

    def note_problem(self, error):
        """The store failed to save: say so (save_problem) until the server stops; log it."""
        self.save_problem = (f"Runs cannot be saved right now ({error}); they are kept only until "
                             "the server stops.")
        log.warning("run store: %s", error)

    # ---- pages come and go -------------------------------------------------------------------------
    def attach(self, token: str) -> None:
        """A page of the student's is open (a browser session started or came back)."""
        with self._lock:
            student = self._student(token)
            student.pages += 1
            student.alone_since = None

    def detach(self, token: str) -> None:
        """A page of the student's went away (closed, reloaded, or its connection dropped)."""
        with self._lock:
            student = self._student(token)
            student.pages = max(0, student.pages - 1)
            if student.pages == 0:
                student.alone_since = self.clock()

    def sweep(self, now: float | None = None) -> None:
        """Stop the runs of students with no page for orphan_seconds; let go of what pages no longer
        show (finished runs are swapped for their stored copies, read again on demand)."""
        now = self.clock() if now is None else now
        with self._lock:
            alone = [s for s in self._students.values()
                     if s.pages == 0 and s.alone_since is not None and now - s.alone_since >= self.orphan_seconds]
        for student in alone:
            for run in self._all_runs(student):
                if not run.finished:
                    run.stop(ORPHANED.format(seconds=self.orphan_seconds))
            for runs in (student.runs, *(e.runs for e in student.experiments)):
                self._swap_for_stored(runs)

    def _swap_for_stored(self, runs: list) -> None:
        """In a list of runs, each saved run for its stored copy (read again when a page asks)."""
        for i, run in enumerate(list(runs)):
            if isinstance(run, StoredRun):
                run.forget()
            elif run.status in FINISHED and not run.alive and run.id > 0:    # saved (its on_end ran)
                row = self.store.run(run.id)
                if row is not None:
                    with self._lock:
                        if i < len(runs) and runs[i] is run:
                            runs[i] = StoredRun(row, self.store, self.split_loader)

    def _sweep_forever(self, every: float) -> None:
        while True:
            time.sleep(every)
            try:
                self.sweep()
            except Exception:        # keep sweeping; one bad look must not end the thread
                log.exception("students: sweep failed")

    # ---- for tests and the README's figures ----------------------------------------------------------
    def live_runs(self) -> list[Run]:
        """Every run of every student that has not finished."""
        with self._lock:
            return [r for s in self._students.values() for r in self._all_runs(s) if not r.finished]

    def pages(self, token: str) -> int:
        return self._student(token).pages

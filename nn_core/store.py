"""The run store: each student's runs, their records and final weights, in one SQLite file.

So that nothing is lost to a reload, a dropped connection or a server restart. The standard
library's sqlite3 only; one connection, shared by the server's threads behind a lock.

    runs      one row per run: whose it is (the student's token), its number and name, its config,
              the dataset it trained on (name, and content hash for an upload), status, messages;
              an experiment's run also its experiment and its label (like 'lr=0.1')
    experiments  one row per controlled experiment (nn_core.experiments): whose, its number, its spec
    twins     one row per twin of a run: every metric record (zlib-compressed JSON) and the final
              weights as the bytes of a .npz model file
    uploads   a student's uploaded datasets by content hash (the parsed digits, at most the row cap)
    students  a student's dataset in use, and when they were last seen

The schema's version is SQLite's `PRAGMA user_version`; MIGRATIONS[v] takes a file from version v - 1
to v, so an older file is brought up to date in place and keeps every run. A file that is not a database, is damaged,
or has a schema this code does not know is moved aside (never deleted) and a new, empty store starts
in its place, with one sentence saying so; where nothing can be written at all, the store lives in
memory until the server stops. No streamlit here.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import io
import json
import sqlite3
import threading
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .config import TrainConfig
from .data import Dataset
from .model_io import SavedModel, model_bytes
from .trainer import Record

DEFAULT_PATH = Path(__file__).resolve().parent.parent / "store" / "runs.sqlite3"
IN_MEMORY = ":memory:"
KEEP_UPLOADS = 3             # uploaded datasets remembered per student (the newest)
UNFINISHED = ("queued", "running", "paused")
INTERRUPTED = "interrupted"
INTERRUPTED_MESSAGE = "interrupted by a server restart; start it again."
DAY = 86_400.0

SCHEMA_V1 = """
CREATE TABLE runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    student TEXT NOT NULL,
    number INTEGER NOT NULL,
    name TEXT NOT NULL,
    impls TEXT NOT NULL,
    config TEXT NOT NULL,
    dataset TEXT NOT NULL,
    dataset_hash TEXT,
    n_train INTEGER NOT NULL,
    status TEXT NOT NULL,
    messages TEXT NOT NULL DEFAULT '{}',
    errors TEXT NOT NULL DEFAULT '{}',
    started_at REAL NOT NULL,
    finished_at REAL
);
CREATE INDEX runs_by_student ON runs (student, id);
CREATE TABLE twins (
    run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    impl TEXT NOT NULL,
    records BLOB NOT NULL,
    weights BLOB,
    PRIMARY KEY (run_id, impl)
);
CREATE TABLE uploads (
    student TEXT NOT NULL,
    hash TEXT NOT NULL,
    name TEXT NOT NULL,
    rows INTEGER NOT NULL,
    data BLOB NOT NULL,
    used_at REAL NOT NULL,
    PRIMARY KEY (student, hash)
);
CREATE TABLE students (
    token TEXT PRIMARY KEY,
    dataset TEXT,
    dataset_hash TEXT,
    seen_at REAL NOT NULL
);
"""
# Version 2: controlled experiments; a Train run has no experiment (NULL) and no label.
SCHEMA_V2 = """
CREATE TABLE experiments (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    student TEXT NOT NULL,
    number INTEGER NOT NULL,
    spec TEXT NOT NULL,
    started_at REAL NOT NULL
);
CREATE INDEX experiments_by_student ON experiments (student, id);
ALTER TABLE runs ADD COLUMN experiment_id INTEGER REFERENCES experiments (id) ON DELETE CASCADE;
ALTER TABLE runs ADD COLUMN label TEXT;
"""
MIGRATIONS = {1: SCHEMA_V1, 2: SCHEMA_V2}      # version -> the script that makes it from the one before
SCHEMA_VERSION = max(MIGRATIONS)

RECORD_FIELDS = {f.name for f in dataclasses.fields(Record)}


class Unreadable(Exception):
    """The file is there but is not a store this code can read (the reason, in a few words)."""


@dataclass(frozen=True)
class DatasetRef:
    """Which dataset: a shared one (the shipped sample, a file in Data/) by name, or an upload by hash."""
    name: str
    hash: str | None = None


@dataclass
class RunRow:
    """A run as the store keeps it (without its records and weights, read on demand)."""
    id: int
    student: str
    number: int
    name: str
    impls: tuple
    config: TrainConfig
    dataset: DatasetRef
    n_train: int
    status: str
    messages: dict
    errors: dict
    started_at: float
    finished_at: float | None
    experiment_id: int | None = None   # None for a Train run
    label: str | None = None           # an experiment's run: its value, like 'lr=0.1'


@dataclass
class ExperimentRow:
    """An experiment as the store keeps it; its runs are the RunRows with its id."""
    id: int
    student: str
    number: int
    spec: dict                         # nn_core.experiments.ExperimentRuns.spec()
    started_at: float


def content_hash(data: bytes) -> str:
    """The name an upload is remembered by: SHA-256 of its bytes, in hex."""
    return hashlib.sha256(data).hexdigest()


def _plain(value):
    """NumPy scalars and arrays in a record, as JSON can hold them."""
    if isinstance(value, (np.generic, np.ndarray)):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not a number")


def records_blob(records: list) -> bytes:
    return zlib.compress(json.dumps([r.to_dict() for r in records], default=_plain).encode("utf-8"), 6)


def records_from_blob(blob: bytes) -> list:
    """Records back from records_blob (fields this version of Record lacks are skipped)."""
    return [Record(**{k: v for k, v in d.items() if k in RECORD_FIELDS})
            for d in json.loads(zlib.decompress(blob))]


def dataset_blob(dataset: Dataset) -> bytes:
    buffer = io.BytesIO()
    np.savez_compressed(buffer, images=dataset.images, labels=dataset.labels)
    return buffer.getvalue()


def dataset_from_blob(blob: bytes, name: str) -> Dataset:
    with np.load(io.BytesIO(blob), allow_pickle=False) as z:
        return Dataset(z["images"], z["labels"], name)


def weights_from_blob(blob: bytes) -> SavedModel:
    """A twin's final weights from the .npz bytes this store wrote itself."""
    with np.load(io.BytesIO(blob), allow_pickle=False) as z:
        n_layers = sum(1 for k in z.files if k.startswith("W"))
        params = [(z[f"W{i}"], z[f"b{i}"]) for i in range(n_layers)]
        return SavedModel(params, str(z["activation"]))


def _row(values) -> RunRow:
    (id_, student, number, name, impls, config, dataset, dataset_hash, n_train, status, messages,
     errors, started_at, finished_at, experiment_id, label) = values
    return RunRow(id_, student, number, name, tuple(json.loads(impls)),
                  TrainConfig.from_dict(json.loads(config)), DatasetRef(dataset, dataset_hash),
                  n_train, status, json.loads(messages), json.loads(errors), started_at, finished_at,
                  experiment_id, label)


RUN_COLUMNS = ("id, student, number, name, impls, config, dataset, dataset_hash, n_train, status, "
               "messages, errors, started_at, finished_at, experiment_id, label")


class RunStore:
    """The SQLite file at `path` (IN_MEMORY for one that lasts until the process ends)."""

    def __init__(self, path=DEFAULT_PATH):
        self.path = str(path)
        if self.path != IN_MEMORY:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=10)
        try:
            self._prepare()
        except BaseException:
            self._db.close()
            raise

    def _prepare(self):
        try:
            self._db.execute("PRAGMA foreign_keys = ON")
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            tables = {r[0] for r in self._db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            check = self._db.execute("PRAGMA quick_check").fetchone()[0]
        except sqlite3.DatabaseError as e:        # "file is not a database", "... is malformed"
            raise Unreadable(str(e)) from None
        if check != "ok":
            raise Unreadable(f"damaged: {check}")
        if version == 0 and not tables - {"sqlite_sequence"}:
            if self.path != IN_MEMORY:
                self._db.execute("PRAGMA journal_mode = WAL")   # readers never wait for a writer
        elif version not in MIGRATIONS:
            raise Unreadable(f"its schema version is {version}; this app reads versions 1 to {SCHEMA_VERSION}")
        if version < SCHEMA_VERSION:
            self._migrate()

    def _migrate(self):
        """Bring the file to SCHEMA_VERSION: every step, or none of them. Under SQLite's write lock,
        so of two servers opening one file at once, the second finds the work done."""
        self._db.execute("BEGIN IMMEDIATE")
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        step = version
        try:
            for step in range(version + 1, SCHEMA_VERSION + 1):
                for statement in MIGRATIONS[step].split(";"):
                    if statement.strip():
                        self._db.execute(statement)
                self._db.execute(f"PRAGMA user_version = {step}")
        except sqlite3.DatabaseError as e:                     # a version-1 file without its tables
            self._db.execute("ROLLBACK")
            raise Unreadable(f"its schema could not be brought from version {step - 1} to {step}: {e}") from None
        self._db.execute("COMMIT")

    def close(self):
        with self._lock:
            self._db.close()

    def _run(self, sql: str, params=()):
        with self._lock:
            return self._db.execute(sql, params)

    @contextlib.contextmanager
    def _transaction(self):
        """The store's connection, all of the block's changes or none of them."""
        with self._lock:
            self._db.execute("BEGIN")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    @property
    def schema_version(self) -> int:
        return self._run("PRAGMA user_version").fetchone()[0]

    # ---- runs ------------------------------------------------------------------------------------
    def add_run(self, student: str, number: int, name: str, impls, config: TrainConfig,
                dataset: DatasetRef, n_train: int, status: str = "running", started_at=None,
                experiment_id: int | None = None, label: str | None = None) -> int:
        """A new run, in the store from its first moment (so a restart finds it); its id."""
        cursor = self._run(
            "INSERT INTO runs (student, number, name, impls, config, dataset, dataset_hash, n_train,"
            " status, started_at, experiment_id, label) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (student, number, name, json.dumps(list(impls)), json.dumps(config.to_dict()), dataset.name,
             dataset.hash, n_train, status, time.time() if started_at is None else started_at,
             experiment_id, label))
        return cursor.lastrowid

    def add_experiment(self, student: str, number: int, spec: dict, started_at=None) -> int:
        """A new experiment (its runs are added with its id); its id."""
        cursor = self._run("INSERT INTO experiments (student, number, spec, started_at) VALUES (?, ?, ?, ?)",
                           (student, number, json.dumps(spec), time.time() if started_at is None else started_at))
        return cursor.lastrowid

    def experiments_of(self, student: str) -> list[ExperimentRow]:
        """The student's experiments, oldest first."""
        rows = self._run("SELECT id, student, number, spec, started_at FROM experiments WHERE student = ?"
                         " ORDER BY id", (student,)).fetchall()
        return [ExperimentRow(id_, who, number, json.loads(spec), started_at)
                for id_, who, number, spec, started_at in rows]

    def finish_run(self, run_id: int, status: str, messages: dict, errors: dict, records: dict,
                   weights: dict, activation: str, finished_at=None) -> None:
        """How the run ended. records: impl -> [Record]; weights: impl -> [(W, b), ...] (or absent)."""
        twins = [(run_id, impl, records_blob(recs),
                  model_bytes(weights[impl], activation) if impl in weights else None)
                 for impl, recs in records.items()]
        with self._transaction() as db:
            db.execute("UPDATE runs SET status = ?, messages = ?, errors = ?, finished_at = ? WHERE id = ?",
                       (status, json.dumps(messages), json.dumps(errors),
                        time.time() if finished_at is None else finished_at, run_id))
            db.executemany("INSERT OR REPLACE INTO twins (run_id, impl, records, weights) VALUES (?, ?, ?, ?)",
                           twins)

    def mark_interrupted(self) -> int:
        """Runs still marked as training (the server stopped under them): interrupted. How many."""
        placeholders = ", ".join("?" * len(UNFINISHED))
        with self._transaction() as db:
            rows = db.execute(f"SELECT id, impls FROM runs WHERE status IN ({placeholders})",
                              UNFINISHED).fetchall()
            for run_id, impls in rows:
                messages = {impl: INTERRUPTED_MESSAGE for impl in json.loads(impls)}
                db.execute("UPDATE runs SET status = ?, messages = ?, finished_at = ? WHERE id = ?",
                           (INTERRUPTED, json.dumps(messages), time.time(), run_id))
        return len(rows)

    def runs_of(self, student: str) -> list[RunRow]:
        """The student's runs, oldest first."""
        rows = self._run(f"SELECT {RUN_COLUMNS} FROM runs WHERE student = ? ORDER BY id", (student,))
        return [_row(values) for values in rows.fetchall()]

    def run(self, run_id: int) -> RunRow | None:
        values = self._run(f"SELECT {RUN_COLUMNS} FROM runs WHERE id = ?", (run_id,)).fetchone()
        return _row(values) if values else None

    def records_of(self, run_id: int) -> dict:
        """impl -> [Record] of a finished run."""
        rows = self._run("SELECT impl, records FROM twins WHERE run_id = ?", (run_id,)).fetchall()
        return {impl: records_from_blob(blob) for impl, blob in rows}

    def weights_of(self, run_id: int) -> dict:
        """impl -> SavedModel: the final weights of each twin of a finished run that has some."""
        rows = self._run("SELECT impl, weights FROM twins WHERE run_id = ? AND weights IS NOT NULL",
                         (run_id,)).fetchall()
        return {impl: weights_from_blob(blob) for impl, blob in rows}

    def count_runs(self, student: str | None = None) -> int:
        if student is None:
            return self._run("SELECT COUNT(*) FROM runs").fetchone()[0]
        return self._run("SELECT COUNT(*) FROM runs WHERE student = ?", (student,)).fetchone()[0]

    # ---- pruning -----------------------------------------------------------------------------------
    def prune(self, keep_days: float, keep_runs: int, now: float | None = None) -> list[int]:
        """Delete finished runs older than keep_days, all but each student's newest keep_runs
        finished Train runs, and the finished runs of all but their newest keep_runs experiments;
        forget students, uploads and experiments unused for keep_days. The run ids deleted."""
        now = time.time() if now is None else now
        cutoff = now - keep_days * DAY
        placeholders = ", ".join("?" * len(UNFINISHED))
        with self._transaction() as db:
            old = [r[0] for r in db.execute(
                f"SELECT id FROM runs WHERE status NOT IN ({placeholders}) AND finished_at < ?",
                (*UNFINISHED, cutoff))]
            over = [r[0] for r in db.execute(
                f"SELECT id FROM (SELECT id, ROW_NUMBER() OVER (PARTITION BY student ORDER BY id DESC)"
                f" AS newest FROM runs WHERE status NOT IN ({placeholders}) AND experiment_id IS NULL)"
                f" WHERE newest > ?", (*UNFINISHED, keep_runs))]
            older_experiments = [r[0] for r in db.execute(
                "SELECT id FROM (SELECT id, ROW_NUMBER() OVER (PARTITION BY student ORDER BY id DESC)"
                " AS newest FROM experiments) WHERE newest > ?", (keep_runs,))]
            in_older = ", ".join("?" * len(older_experiments))
            over_experiments = [r[0] for r in db.execute(
                f"SELECT id FROM runs WHERE status NOT IN ({placeholders}) AND experiment_id IN ({in_older})",
                (*UNFINISHED, *older_experiments))]
            doomed = sorted(set(old) | set(over) | set(over_experiments))
            db.executemany("DELETE FROM runs WHERE id = ?", [(i,) for i in doomed])
            db.execute(f"DELETE FROM experiments WHERE (started_at < ? OR id IN ({in_older})) AND NOT EXISTS"
                       " (SELECT 1 FROM runs WHERE runs.experiment_id = experiments.id)",
                       (cutoff, *older_experiments))
            db.execute("DELETE FROM uploads WHERE used_at < ?", (cutoff,))
            db.execute("DELETE FROM students WHERE seen_at < ?", (cutoff,))
        return doomed

    # ---- datasets ----------------------------------------------------------------------------------
    def remember_upload(self, student: str, digest: str, dataset: Dataset) -> None:
        """Keep an uploaded dataset for the student (its newest KEEP_UPLOADS uploads are kept)."""
        blob = dataset_blob(dataset)
        with self._transaction() as db:
            db.execute("INSERT OR REPLACE INTO uploads (student, hash, name, rows, data, used_at)"
                       " VALUES (?, ?, ?, ?, ?, ?)", (student, digest, dataset.name, len(dataset), blob, time.time()))
            db.execute("DELETE FROM uploads WHERE student = ? AND hash NOT IN (SELECT hash FROM uploads"
                       " WHERE student = ? ORDER BY used_at DESC LIMIT ?)", (student, student, KEEP_UPLOADS))

    def uploads_of(self, student: str) -> list[DatasetRef]:
        """The student's remembered uploads, newest first."""
        rows = self._run("SELECT name, hash FROM uploads WHERE student = ? ORDER BY used_at DESC",
                         (student,)).fetchall()
        return [DatasetRef(name, digest) for name, digest in rows]

    def upload(self, student: str, digest: str) -> Dataset | None:
        values = self._run("SELECT name, data FROM uploads WHERE student = ? AND hash = ?",
                           (student, digest)).fetchone()
        return dataset_from_blob(values[1], values[0]) if values else None

    def set_dataset(self, student: str, ref: DatasetRef) -> None:
        """The dataset the student uses now (found again after a reload)."""
        now = time.time()
        with self._transaction() as db:
            db.execute("INSERT OR REPLACE INTO students (token, dataset, dataset_hash, seen_at)"
                       " VALUES (?, ?, ?, ?)", (student, ref.name, ref.hash, now))
            if ref.hash:
                db.execute("UPDATE uploads SET used_at = ? WHERE student = ? AND hash = ?",
                           (now, student, ref.hash))

    def dataset_of(self, student: str) -> DatasetRef | None:
        values = self._run("SELECT dataset, dataset_hash FROM students WHERE token = ?",
                           (student,)).fetchone()
        return DatasetRef(*values) if values and values[0] else None


def open_store(path=DEFAULT_PATH) -> tuple[RunStore, str | None]:
    """The store at `path`, and None; or, when it cannot be used as it is, a working store and one
    sentence saying what happened (an unreadable file is moved aside, never deleted)."""
    path = str(path)
    try:
        return RunStore(path), None
    except Unreadable as e:
        reason = str(e)
    except (OSError, sqlite3.Error) as e:      # no such folder and cannot make it, no permission, ...
        return RunStore(IN_MEMORY), (
            f"The run store {path} cannot be opened ({e}); runs are kept only until the server stops. "
            "Set NN_DB to a file in a writable folder.")
    aside = f"{path}.unreadable-{time.strftime('%Y%m%d-%H%M%S')}"
    try:
        Path(path).rename(aside)
        for suffix in ("-wal", "-shm"):        # SQLite's side files belong to the old file
            if Path(path + suffix).exists():
                Path(path + suffix).rename(aside + suffix)
        return RunStore(path), (f"The run store {path} could not be read ({reason}), so the run "
                                f"history starts empty; the old file was kept as {aside}.")
    except (OSError, sqlite3.Error, Unreadable) as e:
        return RunStore(IN_MEMORY), (
            f"The run store {path} could not be read ({reason}) nor replaced ({e}); runs are kept "
            "only until the server stops. Set NN_DB to a file in a writable folder.")

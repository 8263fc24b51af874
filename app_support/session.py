"""What one browser tab owns: the dataset in use, the student's runs, the models they uploaded.

Per-session things live in st.session_state (module-level variables would be shared by every
student on the server). A student's runs and datasets outlive the session: they are kept
server-wide per student token (app_support.identity, nn_core.students) and in the run store
(nn_core.store, NN_DB), so a reload, a dropped connection or a server restart loses nothing. What
every session shares, read-only, is in app_support.server.
"""

import os
import sqlite3
import time

import numpy as np
import streamlit as st

from nn_core import data as nn_data
from nn_core.config import TrainConfig
from nn_core.errors import UserError
from nn_core.experiments import Experiment, ExperimentRuns
from nn_core.model_io import SavedModel
from nn_core.run import Run
from nn_core.store import DEFAULT_PATH, DatasetRef, content_hash, open_store
from nn_core.students import Students

from . import identity, server

# session_state keys, namespaced so pages cannot clash.
DATASET = "app.dataset"          # the nn_core.data.Dataset in use
RUNS = "app.runs"                # list[Run], oldest first: the student's (nn_core.students)
RUNS_OF_STUDENT = "app.runs_of_student"   # the list RUNS was set to from the student's runs
DATASET_REF = "app.dataset_ref"  # nn_core.store.DatasetRef of DATASET (a name, or an upload's hash)
RESTORED = "app.restored"        # the upload this session continued with, found in the run store
UPLOADED_MODELS = "app.models"   # dict label -> SavedModel
UPLOADS_READ = "app.uploads_read"  # upload hash -> Dataset: each remembered upload read once
SPLITS = "app.splits"            # this session's split of its own upload
# id of the last run whose end triggered the one full rerun (the Train page and the sidebar share it:
# a run's end causes one full rerun, whichever of the two notices it first)
CAUGHT_UP = "train.caught_up"


# ---- the dataset in use ---------------------------------------------------------------------------
def current_dataset() -> nn_data.Dataset:
    """The dataset this student uses: the one chosen in this session, else the one they used
    last (found again in the run store after a reload), else the shipped sample."""
    dataset = st.session_state.get(DATASET)
    if dataset is None:
        dataset = _remembered_dataset() or server.shipped_dataset()
        st.session_state[DATASET] = dataset
    return dataset


def current_dataset_ref() -> DatasetRef:
    """How to find the current dataset again: its name in Data/ (the Data page's label), or an
    upload's content hash."""
    dataset = current_dataset()
    ref = st.session_state.get(DATASET_REF)
    if ref is None:
        ref = DatasetRef(nn_data.SHIPPED_KEY if dataset is server.shipped_dataset() else dataset.name)
    return ref


def _remembered_dataset() -> nn_data.Dataset | None:
    try:
        ref = students().store.dataset_of(identity.student())
        dataset = dataset_for(ref, identity.student()) if ref else None
    except (UserError, sqlite3.Error):           # gone since: start with the shipped sample
        return None
    if dataset is not None:
        st.session_state[DATASET_REF] = ref
        if ref.hash:
            st.session_state[RESTORED] = ref
    return dataset


def dataset_for(ref: DatasetRef, student: str | None = None) -> nn_data.Dataset:
    """The dataset a reference names: a file in Data/ (or the shipped sample), or one of the
    student's remembered uploads. Raises UserError (one sentence) if it is no longer there."""
    if ref.hash:
        if ref == st.session_state.get(DATASET_REF):
            return st.session_state[DATASET]
        read = st.session_state.setdefault(UPLOADS_READ, {})
        if ref.hash not in read:
            dataset = students().store.upload(student or identity.student(), ref.hash)
            if dataset is None:
                raise nn_data.DataError(f"the upload {ref.name} is no longer kept on this server; "
                                        "upload it again.")
            read[ref.hash] = dataset
        return read[ref.hash]
    if ref.name not in server.datasets_on_disk():
        raise nn_data.DataError(f"{ref.name} is no longer in the Data/ folder; choose another dataset.")
    return server.load_dataset_from_disk(ref.name)


def remembered_uploads() -> list[DatasetRef]:
    """This student's uploads the run store keeps, newest first (none if it cannot be read)."""
    try:
        return students().store.uploads_of(identity.student())
    except sqlite3.Error:
        return []


def use_dataset(dataset: nn_data.Dataset, ref: DatasetRef | None = None) -> None:
    """Use `dataset` from now on, in this session and after a reload (remembered by `ref`)."""
    st.session_state[DATASET] = dataset
    st.session_state.pop(DATASET_REF, None)
    ref = ref or current_dataset_ref()
    st.session_state[DATASET_REF] = ref
    st.session_state.pop(RESTORED, None)
    try:
        students().store.set_dataset(identity.student(), ref)
    except sqlite3.Error as e:
        students().note_problem(e)


def remember_upload(data: bytes, dataset: nn_data.Dataset) -> DatasetRef:
    """Keep an uploaded dataset for this student (by content hash) so a reload can continue with it."""
    ref = DatasetRef(dataset.name, content_hash(data))
    try:
        students().store.remember_upload(identity.student(), ref.hash, dataset)
    except sqlite3.Error as e:
        students().note_problem(e)
    return ref


def split_for(config: TrainConfig, dataset: nn_data.Dataset | None = None) -> nn_data.Split:
    """The train/validation split a run with this config trains on (read-only arrays).

    Shared datasets are split once per server (cached); an upload's split is this session's own.
    """
    dataset = dataset or current_dataset()
    if server.is_shared(dataset):
        return server.shared_split(dataset, id(dataset), config.val_fraction, config.seed, config.dtype)
    cache = st.session_state.setdefault(SPLITS, {})
    key = (id(dataset), config.val_fraction, config.seed, config.dtype)
    if key not in cache:
        cache.clear()
        cache[key] = nn_data.make_split(dataset, config.val_fraction, config.seed, np.dtype(config.dtype))
    return cache[key]


# ---- runs: server-wide per student, kept in the run store (nn_core.students, nn_core.store) ------
@st.cache_resource
def students() -> Students:
    """Every student's runs on this server, and the run store behind them (NN_DB), opened once.

    Runs that were training when the server last stopped are marked interrupted; old runs pruned.
    """
    store, problem = open_store(os.environ.get("NN_DB") or DEFAULT_PATH)
    registry = Students(store, server.host_limits(), split_loader=_split_of_stored_run)
    registry.open_problem = problem
    try:
        store.mark_interrupted()
        registry.prune()
    except sqlite3.Error as e:
        registry.open_problem = (f"The run store {store.path} cannot be written ({e}); runs are kept "
                                 "only until the server stops.")
    return registry


def store_problem() -> str | None:
    """One sentence when the run store is not working as it should (shown in the sidebar)."""
    registry = students()
    return registry.open_problem or registry.save_problem


def _split_of_stored_run(ref: DatasetRef, student: str, config: TrainConfig) -> nn_data.Split:
    return split_for(config, dataset_for(ref, student))


class _Page:
    """This browser session, attached to its student while it lives (see _page_of)."""

    def __init__(self, token: str):
        self.token, self.students = token, students()
        self.students.attach(token)

    def leave(self):
        self.students.detach(self.token)


@st.cache_resource(scope="session", on_release=_Page.leave)
def _page_of(token: str) -> _Page:
    """Made at a session's first look at its runs, released when its websocket goes away: the
    student's runs keep training, and stop only if no page of theirs comes back within
    NN_ORPHAN_SECONDS (nn_core.students)."""
    return _Page(token)


def runs() -> list[Run]:
    """This student's runs, oldest first: the same list in every tab and after every reload."""
    token = identity.student()
    _page_of(token)
    mine = students().runs(token)
    held = st.session_state.get(RUNS)
    if held is None or held is st.session_state.get(RUNS_OF_STUDENT):   # (not a test's own list)
        st.session_state[RUNS] = st.session_state[RUNS_OF_STUDENT] = mine
    return st.session_state[RUNS]


def current_run() -> Run | None:
    all_runs = runs()
    return all_runs[-1] if all_runs else None


def _checked_split(config: TrainConfig) -> tuple[TrainConfig, nn_data.Split, nn_data.Dataset]:
    """The config checked against the host's caps, and the current dataset's split for it.
    Raises UserError (one sentence) on bad settings or a dataset over the row cap."""
    limits = server.host_limits()
    config = config.validated(limits)
    dataset = current_dataset()
    if len(dataset) > limits.max_rows:
        raise UserError(f"the dataset has {len(dataset):,} rows, over this server's cap of "
                        f"{limits.max_rows:,} (NN_MAX_ROWS); choose a smaller dataset.")
    runs()       # attach this page before a run starts
    return config, split_for(config, dataset), dataset


def start_run(config: TrainConfig, impls=("numpy", "torch")) -> Run:
    """Check the settings (the app's one check of them, before anything is stopped or stored),
    then build and start a run on the current dataset. Raises UserError on bad settings."""
    config, split, dataset = _checked_split(config)
    return students().start(identity.student(), config, split, impls, current_dataset_ref(),
                            limits=server.host_limits(), pool=server.trainer_pool(), data_name=dataset.name)


def start_experiment(experiment: Experiment, impl: str) -> ExperimentRuns:
    """Start one run per value of the experiment on the current dataset, kept like any run of the
    student's (a reload or a restart finds them); their previous experiment stops."""
    _, split, dataset = _checked_split(experiment.base)
    return students().start_experiment(identity.student(), experiment, split, impl, current_dataset_ref(),
                                       limits=server.host_limits(), pool=server.trainer_pool(),
                                       data_name=dataset.name)


def latest_experiment() -> ExperimentRuns | None:
    """This student's newest experiment, still training or finished (stored), or None."""
    runs()       # attach this page: its runs keep training while it is open
    return students().latest_experiment(identity.student())


def wait_for_first_record(run: Run, timeout: float = 0.5) -> None:
    """Block until some twin of `run` has taken its first step, or `timeout` seconds passed.

    Called right after a click on Train, so the page drawn in answer already shows the first
    point instead of an empty chart (the next redraw would be a second later). Not when other runs
    are ahead of it in the queue: then its first step is further away than that.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not run.finished:
        if any(run.latest(impl) is not None for impl in run.impls) or run.queue_place() > 1:
            return
        time.sleep(0.01)


# ---- models the learner uploaded ------------------------------------------------------------------
def uploaded_models() -> dict:
    """Label -> SavedModel of this session's uploaded model files."""
    return st.session_state.get(UPLOADED_MODELS, {})


def add_uploaded_model(label: str, model: SavedModel) -> None:
    st.session_state.setdefault(UPLOADED_MODELS, {})[label] = model

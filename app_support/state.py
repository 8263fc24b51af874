"""Everything a student keeps: their dataset, their runs, their uploaded models.

Per-session things live in st.session_state (module-level variables would be shared by every
student on the server). A student's runs and datasets outlive the session: they are kept
server-wide per student token (app_support.identity, nn_core.students) and in the run store
(nn_core.store, NN_DB), so a reload, a dropped connection or a server restart loses nothing. What is
truly shared and read-only, the shipped dataset and its splits, is cached with st.cache_resource
and its arrays are marked read-only.
"""

import os
import sqlite3

import numpy as np
import streamlit as st

from nn_core import data as nn_data
from nn_core.config import TrainConfig
from nn_core.errors import UserError
from nn_core.limits import limits_from_env
from nn_core.model_io import SavedModel
from nn_core.run import Run
from nn_core.store import DEFAULT_PATH, DatasetRef, content_hash, open_store
from nn_core.students import Students

from . import identity

# session_state keys, namespaced so pages cannot clash.
DATASET = "app.dataset"          # the nn_core.data.Dataset in use
RUNS = "app.runs"                # list[Run], oldest first: the student's (nn_core.students)
RUNS_OF_STUDENT = "app.runs_of_student"   # the list RUNS was set to from the student's runs
DATASET_REF = "app.dataset_ref"  # nn_core.store.DatasetRef of DATASET (a name, or an upload's hash)
RESTORED = "app.restored"        # the upload this session continued with, found in the run store
UPLOADED_MODELS = "app.models"   # dict label -> SavedModel


def _settings_from_secrets() -> dict:
    """NN_* keys of .streamlit/secrets.toml (Community Cloud's "Secrets" box), as strings."""
    try:
        return {key: str(value) for key, value in st.secrets.items() if key.startswith("NN_")}
    except Exception:  # no secrets file: the usual case on a laptop
        return {}


@st.cache_resource
def host_limits():
    """The caps of this server, read once: NN_PROFILE / NN_MAX_* from the environment, or from
    st.secrets (environment variables win)."""
    try:
        return limits_from_env({**_settings_from_secrets(), **os.environ})
    except UserError as e:
        st.error(f"Ignoring a bad server setting: {e}")
        from nn_core.limits import Limits
        return Limits()


@st.cache_resource
def shipped_dataset() -> nn_data.Dataset:
    return nn_data.load_shipped_sample()


@st.cache_resource(max_entries=4)
def _dataset_from_file(path: str, mtime: float, max_rows: int) -> nn_data.Dataset:
    """A CSV in Data/, shared read-only by every session; over the row cap, a stratified sample."""
    return nn_data.subsample(nn_data.load_csv(path), max_rows)


def datasets_on_disk() -> dict:
    """Name -> path of the shipped sample and any Kaggle train.csv found in Data/."""
    return nn_data.find_datasets()


def load_dataset_from_disk(name: str) -> nn_data.Dataset:
    """Raises UserError (shown with st.error by the caller) if the file is unusable."""
    path = datasets_on_disk()[name]
    if path == nn_data.SHIPPED_SAMPLE:
        return shipped_dataset()
    return _dataset_from_file(str(path), path.stat().st_mtime, host_limits().max_rows)


def current_dataset() -> nn_data.Dataset:
    """The dataset this student uses: the one chosen in this session, else the one they used
    last (found again in the run store after a reload), else the shipped sample."""
    dataset = st.session_state.get(DATASET)
    if dataset is None:
        dataset = _remembered_dataset() or shipped_dataset()
        st.session_state[DATASET] = dataset
    return dataset


def current_dataset_ref() -> DatasetRef:
    """How to find the current dataset again: its name in Data/ (the Data page's label), or an
    upload's content hash."""
    dataset = current_dataset()
    ref = st.session_state.get(DATASET_REF)
    if ref is None:
        ref = DatasetRef(nn_data.SHIPPED_KEY if dataset is shipped_dataset() else dataset.name)
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
        read = st.session_state.setdefault("app.uploads_read", {})     # read each upload once
        if ref.hash not in read:
            dataset = students().store.upload(student or identity.student(), ref.hash)
            if dataset is None:
                raise nn_data.DataError(f"the upload {ref.name} is no longer kept on this server; "
                                        "upload it again.")
            read[ref.hash] = dataset
        return read[ref.hash]
    if ref.name not in datasets_on_disk():
        raise nn_data.DataError(f"{ref.name} is no longer in the Data/ folder; choose another dataset.")
    return load_dataset_from_disk(ref.name)


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


@st.cache_resource(max_entries=16)
def _shared_split(_dataset, dataset_id: int, val_fraction: float, seed: int, dtype: str):
    split = nn_data.make_split(_dataset, val_fraction, seed, np.dtype(dtype))
    for array in vars(split).values():
        array.flags.writeable = False
    return split


def split_for(config: TrainConfig, dataset: nn_data.Dataset | None = None) -> nn_data.Split:
    """The train/validation split a run with this config trains on (read-only arrays).

    Shared datasets are split once per server (cached); an upload's split is this session's own.
    """
    dataset = dataset or current_dataset()
    if dataset is shipped_dataset() or dataset.name in datasets_on_disk():
        return _shared_split(dataset, id(dataset), config.val_fraction, config.seed, config.dtype)
    cache = st.session_state.setdefault("app.splits", {})
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
    limits = host_limits()
    registry = Students(store, limits, split_loader=_split_of_stored_run)
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


def start_run(config: TrainConfig, impls=("numpy", "torch")) -> Run:
    """Validate, build and start a run on the current dataset. Raises UserError on bad settings."""
    limits = host_limits()
    config = config.validated(limits)
    dataset = current_dataset()
    if len(dataset) > limits.max_rows:
        raise UserError(f"the dataset has {len(dataset):,} rows, over this server's cap of "
                        f"{limits.max_rows:,} (NN_MAX_ROWS); choose a smaller dataset.")
    split = split_for(config, dataset)
    runs()       # attach this page before the run starts
    return students().start(identity.student(), config, split, impls, current_dataset_ref(),
                            limits=limits, pool=trainer_pool(), data_name=dataset.name)


# ---- models for the other pages --------------------------------------------------------------------
def available_models() -> dict:
    """Label -> SavedModel for every trained twin of this session's runs, plus uploaded models."""
    models = {}
    for run in reversed(runs()):
        for impl, twin in list(run.twins.items()):
            if run.records(impl):
                label = f"{run.name.split(' · ')[0]} · {'NumPy' if impl == 'numpy' else 'PyTorch'}"
                models[label] = SavedModel(twin.params(), run.config.activation)
    models.update(st.session_state.get(UPLOADED_MODELS, {}))
    return models


def add_uploaded_model(label: str, model: SavedModel) -> None:
    st.session_state.setdefault(UPLOADED_MODELS, {})[label] = model


# ---- the trainer processes, started once per server process ------------------------------------
TORCH_MISSING = "PyTorch is not installed; pip install torch==2.13.0"


def torch_available() -> bool:
    """True if torch can be imported (checked without importing it)."""
    import importlib.util
    try:
        return importlib.util.find_spec("torch") is not None
    except (ImportError, ValueError):     # a broken or half-removed install
        return False


@st.cache_resource
def trainer_pool():
    """The server's warm pool of trainer processes (NN_WORKERS of them), started at the first visit.

    The twins train in these processes, never in the server's: the server stays free to draw pages,
    and it never imports torch (the workers do, while they start, long before anyone clicks Train).
    NumPy's BLAS in the server is capped at NN_THREADS threads too (default 1), for the light maths
    the pages do (predictions, the walk-through); each worker caps its own BLAS and torch threads.
    """
    from nn_core.run import default_pool
    from nn_core.threads import configured_threads, limit_threads

    limit_threads(configured_threads())
    return default_pool(host_limits(), preload_torch=torch_available())


@st.cache_resource
def warm_up_plotly() -> None:
    """Draw one figure of each kind the Train page uses, once per server process.

    plotly loads its property checks lazily, on the first figure of each kind (~0.3 s). Done here
    in the script's own thread, the first chart after a click on Train is quick. (Not in the torch
    thread: plotly's lazy imports are not safe to run from two threads at once.)
    """
    import plotly.graph_objects as go

    from app_support import charts
    go.Figure(charts.loss_figure({})).to_json()
    go.Figure(charts.weights_figure(np.zeros((784, 1)))).to_json()


def wait_for_first_record(run: Run, timeout: float = 0.5) -> None:
    """Block until some twin of `run` has taken its first step, or `timeout` seconds passed.

    Called right after a click on Train, so the page drawn in answer already shows the first
    point instead of an empty chart (the next redraw would be half a second later).
    """
    import time
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not run.finished:
        if any(run.latest(impl) is not None for impl in run.impls):
            return
        time.sleep(0.01)

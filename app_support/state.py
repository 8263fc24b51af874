"""Everything a browser session keeps: its dataset, its runs, its uploaded models.

Per-user things live in st.session_state only (module-level variables would be shared by every
student on the server). What is truly shared and read-only, the shipped dataset and its splits, is
cached with st.cache_resource and its arrays are marked read-only.
"""

import os
from dataclasses import dataclass, field

import numpy as np
import streamlit as st

from nn_core import data as nn_data
from nn_core.config import TrainConfig
from nn_core.errors import UserError
from nn_core.limits import limits_from_env
from nn_core.model_io import SavedModel
from nn_core.run import Run

# session_state keys, namespaced so pages cannot clash.
DATASET = "app.dataset"          # the nn_core.data.Dataset in use
RUNS = "app.runs"                # list[Run], oldest first
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
    return st.session_state.get(DATASET) or shipped_dataset()


def use_dataset(dataset: nn_data.Dataset) -> None:
    st.session_state[DATASET] = dataset


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


# ---- runs -----------------------------------------------------------------------------------------
@dataclass
class _SessionRuns:
    """Held by a session-scoped resource so that its runs stop when the browser disconnects."""
    runs: list = field(default_factory=list)

    def stop_all(self):
        for run in self.runs:
            run.stop()


@st.cache_resource(scope="session", on_release=_SessionRuns.stop_all)
def _session_runs() -> _SessionRuns:
    return _SessionRuns()


def runs() -> list[Run]:
    if RUNS not in st.session_state:
        st.session_state[RUNS] = []
    holder = _session_runs()
    holder.runs = st.session_state[RUNS]   # the same list object: stop_all sees every run
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
    all_runs = runs()
    for old in all_runs:
        if not old.finished:
            old.stop()
    run = Run(config, split, impls=impls, limits=limits, pool=trainer_pool(),
              name=f"run {len(all_runs) + 1} · {', '.join(impls)} · {dataset.name}")
    all_runs.append(run)
    run.start()
    return run


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

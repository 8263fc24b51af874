"""What the whole server shares, made once per server process: its limits, the shipped and on-disk
datasets and their splits (read-only), the trainer processes, the plotly warm-up.

Every session sees the same objects here (st.cache_resource), so nothing in this module belongs to
one student: what a browser tab owns is in app_support.session.
"""

import functools
import math
import os

import numpy as np
import streamlit as st

from nn_core import data as nn_data
from nn_core.errors import UserError
from nn_core.limits import Limits, limits_from_env
from nn_core.optional_torch import INSTALL_TORCH, torch_available    # the pages ask server.torch_available()

from .turns import drawing_turn, turn_given_up

TORCH_MISSING = f"PyTorch is not installed; {INSTALL_TORCH}"


def _settings_from_secrets() -> dict:
    """NN_* keys of .streamlit/secrets.toml (Community Cloud's "Secrets" box), as strings."""
    try:
        return {key: str(value) for key, value in st.secrets.items() if key.startswith("NN_")}
    except Exception:  # no secrets file: the usual case on a laptop
        return {}


@st.cache_resource
def host_limits() -> Limits:
    """The caps of this server, read once: NN_PROFILE / NN_MAX_* from the environment, or from
    st.secrets (environment variables win)."""
    try:
        return limits_from_env({**_settings_from_secrets(), **os.environ})
    except UserError as e:
        st.error(f"Ignoring a bad server setting: {e}")
        return Limits()


# ---- datasets every student may use, read-only ----------------------------------------------------
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


def is_shared(dataset: nn_data.Dataset) -> bool:
    """True for the shipped sample and the files in Data/ (not a student's upload)."""
    return dataset is shipped_dataset() or dataset.name in datasets_on_disk()


@st.cache_resource(max_entries=16)
def shared_split(_dataset, dataset_id: int, val_fraction: float, seed: int, dtype: str):
    """A shared dataset's train/validation split, made once per server; its arrays are read-only."""
    split = nn_data.make_split(_dataset, val_fraction, seed, np.dtype(dtype))
    for array in vars(split).values():
        array.flags.writeable = False
    return split


# ---- the trainer processes, started once per server process ------------------------------------
@st.cache_resource
def trainer_pool():
    """The server's warm pool of trainer processes (NN_WORKERS of them), started at the first visit.

    The twins train in these processes, never in the server's: the server stays free to draw pages,
    and it never imports torch (half the workers do, while they start, long before anyone clicks
    Train; the others train the NumPy twins without it).
    NumPy's BLAS in the server is capped at NN_THREADS threads too (default 1), for the light maths
    the pages do (predictions, the walk-through); each worker caps its own BLAS and torch threads.
    """
    from nn_core.run import default_pool
    from nn_core.threads import configured_threads, limit_threads

    limit_threads(configured_threads())
    return default_pool(host_limits(), preload_torch=torch_available())


def trainer_call(function, *args, **kwargs):
    """function(*args, **kwargs) in a trainer process with no twin to train (it may wait for one);
    this page's drawing turn goes to the other pages meanwhile."""
    with turn_given_up():
        return trainer_pool().call(function, *args, **kwargs)


def live_fragment(draw, every: float | None):
    """st.fragment(run_every=every) of `draw`, each redraw in its drawing turn (None: not timed)."""
    @functools.wraps(draw)
    def in_turn(*args, **kwargs):
        with drawing_turn():
            return draw(*args, **kwargs)
    return st.fragment(run_every=every)(in_turn)


def redraw_every(base: float, runs_on_server: int, runs_per_step: int = 5, slowest: int = 4) -> float:
    """Seconds between two redraws of a live chart, given how many runs train or wait on the server.

    base while at most runs_per_step runs are there, then base x2, x3, ... up to x slowest: in a
    busy class each student's page costs the server less, and the charts still move. Whole
    multiples of base, so the interval does not change on every small move of the count (the
    browser restarts its timer when it does)."""
    return base * min(slowest, max(1, math.ceil(runs_on_server / runs_per_step)))


@st.cache_resource
def warm_up_plotly() -> None:
    """Draw one figure of each kind the Train page uses, once per server process.

    plotly loads its property checks lazily, on the first figure of each kind (~0.3 s). Done here
    in the script's own thread, the first chart after a click on Train is quick. (Not in the torch
    thread: plotly's lazy imports are not safe to run from two threads at once.)
    """
    import plotly.graph_objects as go

    from app_support import figures
    go.Figure(figures.loss_figure({})).to_json()
    go.Figure(figures.weights_figure(np.zeros((784, 1)))).to_json()

"""Compatibility names; new code imports from session/server/series/figures.

(app_support.state was split by concern: what one browser tab owns in app_support.session, what
the whole server shares in app_support.server. Each name below is the new one.)
"""
# ruff: noqa: F401
from .server import host_limits
from .server import shipped_dataset
from .server import datasets_on_disk
from .server import load_dataset_from_disk
from .server import TORCH_MISSING
from .server import torch_available
from .server import trainer_pool
from .server import warm_up_plotly
from .session import DATASET
from .session import RUNS
from .session import RUNS_OF_STUDENT
from .session import DATASET_REF
from .session import RESTORED
from .session import UPLOADED_MODELS
from .session import current_dataset
from .session import current_dataset_ref
from .session import dataset_for
from .session import remembered_uploads
from .session import use_dataset
from .session import remember_upload
from .session import split_for
from .session import students
from .session import store_problem
from .session import runs
from .session import current_run
from .session import start_run
from .session import wait_for_first_record
from .session import add_uploaded_model

"""Compatibility names; new code imports from session/server/series/figures.

(app_support.state was split by concern: what one browser tab owns in app_support.session, what
the whole server shares in app_support.server. Each name below is the new one.)
"""
# ruff: noqa: F401
from .server import host_limits, shipped_dataset, datasets_on_disk, load_dataset_from_disk
from .server import TORCH_MISSING, torch_available, trainer_pool, warm_up_plotly
from .session import DATASET, RUNS, RUNS_OF_STUDENT, DATASET_REF, RESTORED, UPLOADED_MODELS
from .session import current_dataset, current_dataset_ref, dataset_for, remembered_uploads
from .session import use_dataset, remember_upload, split_for, students, store_problem
from .session import runs, current_run, start_run, wait_for_first_record, add_uploaded_model

"""Choosing a trained network on the Inside and Try it pages: one of this session's runs (both twins)
or a model file the learner uploaded. Widgets and session state only; the maths is in nn_core.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import streamlit as st

from app_support import server, session
from app_support.uploads import upload_limit_mb
from nn_core.config import TrainConfig
from nn_core.errors import UserError
from nn_core.evaluate import numpy_predictor, torch_predictor
from nn_core.model_io import SavedModel, load_model, max_model_bytes
from nn_core.twins import TWIN_NAMES


@dataclass
class ModelSource:
    """A trained network the pages can use.

    models: name -> its weights (a copy taken now); a run's are named by twin ("NumPy" /
    "PyTorch"), an uploaded file by its kind ("Uploaded .pt model"), never as a twin it is not;
    predictors: twin name -> predict_proba, float (n, 784) in [0, 1] -> (n, 10);
    x_val float (n, 784), y_val int (n,): digits it did not train on (None if there are none).
    """
    label: str
    models: dict
    predictors: dict
    x_val: np.ndarray | None = None
    y_val: np.ndarray | None = None
    val_note: str = ""
    status: str = ""
    run: object = field(default=None, repr=False)


def _run_source(run) -> ModelSource | None:
    """The twins of `run` that have trained at least one step (None if none has)."""
    models, predictors = {}, {}
    twins = dict(run.twins)                   # (a twin's entry appears when its first weights arrive)
    for impl in run.impls:                    # NumPy first, whichever twin started first
        twin = twins.get(impl)
        if twin is None or not run.records(impl):
            continue
        name = TWIN_NAMES.get(impl, impl)
        models[name] = SavedModel(twin.params(), run.config.activation)
        if run.finished:
            predictors[name] = twin.predict_proba          # the twin itself, now idle
        else:                                              # still training: use a frozen copy
            make = numpy_predictor if impl == "numpy" else torch_predictor
            predictors[name] = make(models[name])
    if not models:
        return None
    steps = max((r.step for r in (run.latest(impl) for impl in run.impls) if r), default=0)
    split = run.split
    x_val, y_val = (split.x_val, split.y_val) if len(split.y_val) else (None, None)
    note = (f"the run's own validation split ({len(split.y_val):,} digits it never trained on)"
            if x_val is not None else f"no validation digits: {getattr(run, 'split_problem', None)}")
    status = f"{run.status}, step {steps:,}" + (
        "" if run.finished else "; still training, so this page uses a snapshot of its weights taken now")
    return ModelSource(run.name, models, predictors, x_val, y_val, note, status, run)


def _uploaded_source(label: str, model: SavedModel) -> ModelSource:
    x_val = y_val = None
    note = ""
    dataset = session.current_dataset()
    config = TrainConfig(dtype=str(model.params[0][0].dtype))      # the default split: its fraction, its seed
    try:
        split = session.split_for(config, dataset)
        x_val, y_val = split.x_val, split.y_val
        note = (f"the validation split of {dataset.name} ({config.val_fraction * 100:g} %, "
                f"seed {config.seed}, {len(y_val):,} digits); an uploaded model may have trained "
                "on some of them")
    except UserError as e:
        note = f"no validation digits: {e}"
    name = uploaded_name(label)
    return ModelSource(label, {name: model}, {name: numpy_predictor(model)}, x_val, y_val, note)


def uploaded_name(label: str) -> str:
    """'uploaded · mine.pt' -> 'Uploaded .pt model': what the pages call an uploaded network."""
    return f"Uploaded {Path(label).suffix or 'file'} model"


def model_sources() -> list[ModelSource]:
    """This session's runs (newest first) that have trained, then its uploaded models."""
    sources = [s for s in (_run_source(run) for run in reversed(session.runs())) if s is not None]
    uploaded = session.uploaded_models()
    return sources + [_uploaded_source(label, model) for label, model in uploaded.items()]


def _on_model_upload(page: str) -> None:
    """Callback of the model uploader: read the file once; remember its label or its error."""
    upload = st.session_state.get(f"{page}.model_file")
    st.session_state.pop(f"{page}.model_error", None)
    if upload is None:
        return
    try:
        model = load_model(upload.getvalue(), name=upload.name, limits=server.host_limits())
    except UserError as e:
        st.session_state[f"{page}.model_error"] = str(e)
        return
    label = f"uploaded · {upload.name}"
    session.add_uploaded_model(label, model)
    st.session_state[f"{page}.source"] = label             # select it straight away


def model_uploader(page: str) -> None:
    """A file uploader for a saved .npz / .pt model; errors are shown with st.error."""
    st.file_uploader("Upload a model saved by this app or its CLI (.npz or .pt)", type=["npz", "pt"],
                     key=f"{page}.model_file", on_change=_on_model_upload, args=(page,),
                     max_upload_size=upload_limit_mb(max_model_bytes(server.host_limits())))
    if f"{page}.model_error" in st.session_state:
        st.error(st.session_state[f"{page}.model_error"])


def choose_source(page: str) -> ModelSource | None:
    """Model picker shared by the pages: a selectbox over model_sources() and an uploader.

    Shows how to get a model, and returns None, when there is none yet.
    """
    sources = model_sources()
    with st.expander("Use a saved model file", expanded=not sources):
        model_uploader(page)
    if not sources:
        st.info("Train a model on Train & compare first, or upload one.")
        st.page_link("app_pages/train.py", label="Go to Train & compare", icon=":material/model_training:")
        return None
    labels = [s.label for s in sources]
    key = f"{page}.source"
    if st.session_state.get(key) not in labels:
        st.session_state[key] = labels[0]
    source = sources[labels.index(st.selectbox("Model", labels, key=key))]
    if source.status:
        st.caption(f"Run status: {source.status}.")
    return source


def choose_model_and_digit(page: str):
    """The top of the pages that follow one digit: a model (choose_source), a twin, a validation
    digit. Returns (source, twin name, SavedModel, x (784,), label); stops the page, saying why,
    when there is no model or no validation digit yet."""
    source = choose_source(page)
    if source is None:
        st.stop()
    if source.x_val is None:
        st.error(source.val_note)
        st.stop()
    twin = st.radio("Twin", list(source.models), horizontal=True, key=f"{page}.twin",
                    help="Both twins start from the same weights and see the same batches, so their "
                         "numbers agree to rounding.") if len(source.models) > 1 else next(iter(source.models))
    n_val = len(source.y_val)
    key = f"{page}.index"
    if st.session_state.get(key, 0) >= n_val:      # a smaller validation set than before
        st.session_state[key] = n_val - 1
    index = st.slider("Validation digit", 0, n_val - 1, key=key, help=f"From {source.val_note}.")
    return source, twin, source.models[twin], source.x_val[index], int(source.y_val[index])

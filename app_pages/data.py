"""Data: choose the digits to train on, and look at them."""

import streamlit as st

from app_support import figures, server, session, teaching
from app_support.uploads import upload_limit_mb
from nn_core import data as nn_data
from nn_core import images
from nn_core.errors import UserError
from nn_core.store import DatasetRef

PER_CLASS = 8                      # examples per digit in the grid
UPLOADED = "data.uploaded"         # this session's last good upload: (Dataset, DatasetRef)


def dataset_options() -> dict:
    """Option label -> how to get it: a DatasetRef (a name in Data/, or a remembered upload by
    hash), or the Dataset of this session's upload when the run store could not keep it."""
    options = {name: DatasetRef(name) for name in server.datasets_on_disk()}
    for ref in session.remembered_uploads():
        options.setdefault(f"uploaded: {ref.name}", ref)
    uploaded = st.session_state.get(UPLOADED)
    if uploaded is not None and uploaded[1] not in options.values():
        options[f"uploaded: {uploaded[0].name}"] = uploaded[0]
    return options


def on_choose() -> None:
    """Callback of the dataset selectbox: switch this session to the chosen dataset."""
    choice = dataset_options()[st.session_state["data.choice"]]
    st.session_state.pop("data.choice_error", None)
    uploaded = st.session_state.get(UPLOADED)
    if uploaded is not None and (choice is uploaded[0] or choice == uploaded[1]):
        session.use_dataset(*uploaded)          # this session's upload: already read
        return
    try:
        dataset = session.dataset_for(choice)
    except UserError as e:
        st.session_state["data.choice_error"] = str(e)
        return
    session.use_dataset(dataset, choice)


def on_upload() -> None:
    """Callback of the CSV uploader: read and check the file once; use it if it is good, and
    remember it (by content hash) so that a reload continues with it."""
    upload = st.session_state.get("data.file")
    st.session_state.pop("data.upload_error", None)
    if upload is None:
        return
    data = upload.getvalue()
    try:
        dataset = nn_data.load_csv(data, max_rows=server.host_limits().max_rows, name=upload.name)
        nn_data.stratified_split(dataset.labels, name=dataset.name)   # can it be trained on?
    except UserError as e:
        st.session_state["data.upload_error"] = str(e)
        return
    ref = session.remember_upload(data, dataset)
    st.session_state[UPLOADED] = (dataset, ref)
    session.use_dataset(dataset, ref)


def current_label(options: dict, dataset) -> str:
    """The option label of the dataset in use."""
    in_use = session.current_dataset_ref()
    for label, choice in options.items():
        if choice is dataset or choice == in_use:
            return label
    return next(iter(options))


def summary(dataset):
    """(counts (10,), sample grid, mean digits (10, 28, 28)), computed once per dataset per session."""
    cached = st.session_state.get("data.summary")
    if cached is None or cached[0] is not dataset:
        labels = dataset.labels
        cached = (dataset, (images.class_counts(labels), images.sample_grid(dataset.images, labels, PER_CLASS),
                            images.mean_digits(dataset.images, labels)))
        st.session_state["data.summary"] = cached
    return cached[1]


st.title("Data")
st.write("Every example is a 28 × 28 grey picture of a handwritten digit, stored as one CSV row: "
         "its label (0–9), then 784 pixel intensities from 0 (background) to 255 (ink), row by row.")

options = dataset_options()
st.session_state["data.choice"] = current_label(options, session.current_dataset())
st.selectbox("Dataset", list(options), key="data.choice", on_change=on_choose,
             help="The shipped sample, any labelled train.csv placed in the Data/ folder, "
                  "or one of your last uploads (this server remembers them for you).")
restored = st.session_state.get(session.RESTORED)
if restored is not None:
    st.info(f"Continuing with **{restored.name}**, which you uploaded earlier: no need to upload it again.")
if "data.choice_error" in st.session_state:
    st.error(st.session_state["data.choice_error"])

st.file_uploader(
    "Or upload a Kaggle-layout CSV (train.csv, or .csv.gz)", key="data.file", on_change=on_upload,
    max_upload_size=upload_limit_mb(nn_data.max_csv_bytes(server.host_limits().max_rows)),
    help=f"Header label,pixel0,…,pixel783, then one digit per line; at most "
         f"{server.host_limits().max_rows:,} rows on this server.")
if "data.upload_error" in st.session_state:
    st.error(st.session_state["data.upload_error"])
    st.caption(f"Still using: {session.current_dataset().name}.")

dataset = session.current_dataset()
counts, grid, means = summary(dataset)
st.success(f"In use: **{dataset.name}**, {teaching.plural(len(dataset), 'digit')}.")

st.subheader("How many of each digit")
st.plotly_chart(figures.class_counts_figure(counts), key="data.counts")
st.caption(teaching.NOTICE["class_counts"])
if counts.min() == 0:
    st.warning(f"Digits {', '.join(str(d) for d in range(10) if counts[d] == 0)} do not occur; "
               "a network trained on this cannot learn them.")

left, right = st.columns([3, 2])
with left:
    st.subheader(f"{PER_CLASS} random examples of each digit")
    st.plotly_chart(figures.sample_grid_figure(grid, PER_CLASS), key="data.grid")
    st.caption(teaching.NOTICE["sample_grid"])
with right:
    st.subheader("The average of each digit")
    st.plotly_chart(figures.mean_digits_figure(means), key="data.means")
    st.caption(teaching.NOTICE["mean_digits"])

st.caption("MNIST is by Yann LeCun, Corinna Cortes and Christopher J. C. Burges, licensed CC BY-SA 3.0; "
           "the shipped 5,000-digit sample and its origin are described in Data/README.md.")

"""Try it: draw or upload a digit and ask both twins; see where the model goes wrong; make a Kaggle
submission."""

import numpy as np
import streamlit as st

from app_support import figures, server, teaching
from app_support.models import choose_source
from app_support.uploads import upload_limit_mb
from nn_core import data as nn_data
from nn_core import evaluate, images
from nn_core.errors import UserError

CANVAS_SIDE = 280          # pixels; the drawing is scaled down to MNIST's 20 px box
GALLERY_SIZE = 24          # misclassified digits shown


def draw_digit():
    """The canvas; returns its RGBA pixels uint8 (280, 280, 4), or None until something is drawn."""
    try:
        from streamlit_drawable_canvas import st_canvas
    except Exception as e:  # the component cannot register (e.g. a broken install): offer uploads
        st.warning(f"The drawing canvas is not available here ({type(e).__name__}); upload a picture instead.")
        return None
    result = st_canvas(stroke_width=20, stroke_color="#FFFFFF", background_color="#000000",
                       width=CANVAS_SIDE, height=CANVAS_SIDE, drawing_mode="freedraw",
                       return_image_data=True, key="try.canvas")
    drawn = bool((result.json_data or {}).get("objects"))
    if not drawn or result.image_data is None:
        st.info("Draw one digit, large, in the black square (mouse, finger or pen). "
                "The toolbar above it can undo or clear.")
        return None
    return result.image_data


def upload_digit():
    """The picture uploader; returns (bytes, name) or None."""
    upload = st.file_uploader("A picture of one digit (PNG, JPEG, GIF, BMP or WebP, up to 20 MB)",
                              type=["png", "jpg", "jpeg", "gif", "bmp", "webp"], key="try.picture",
                              max_upload_size=upload_limit_mb(images.MAX_BYTES))
    if upload is None:
        st.info("Dark ink on light paper or light ink on a dark background both work; "
                "crop it to one digit.")
        return None
    return upload.getvalue(), upload.name


def on_kaggle_upload() -> None:
    """Callback of the test.csv uploader: read it once, keep the Dataset or the error."""
    upload = st.session_state.get("try.kaggle_file")
    for key in ("try.kaggle_data", "try.kaggle_error", "try.submission"):
        st.session_state.pop(key, None)
    if upload is None:
        return
    try:
        st.session_state["try.kaggle_data"] = nn_data.load_csv(
            upload.getvalue(), labelled=None, max_rows=server.host_limits().max_rows, name=upload.name)
    except UserError as e:
        st.session_state["try.kaggle_error"] = str(e)


st.title("Try it")
source = choose_source("try")
if source is None:
    st.stop()

# ---- your own digit ------------------------------------------------------------------------------
st.subheader("Your digit")
way = st.segmented_control("Input", ["Draw", "Upload a picture"], default="Draw", key="try.way",
                           label_visibility="collapsed") or "Draw"
st.space("small")                 # room for the canvas's toolbar, which floats above its top edge
left, right = st.columns([1, 1])
with left:
    digit = None
    try:
        if way == "Draw":
            rgba = draw_digit()
            digit = None if rgba is None else images.canvas_to_digit(rgba)
            hint = None if rgba is None else images.little_ink_hint(rgba)
            if hint:
                st.warning(hint)
        else:
            picture = upload_digit()
            digit = None if picture is None else images.image_to_digit(*picture)
    except UserError as e:
        st.error(str(e))
with right:
    if digit is not None:
        st.plotly_chart(figures.digit_figure(digit, "what the network sees: 28 × 28"), key="try.digit")
        st.caption("Grey-scaled, inverted if the background was light, cropped to the ink, scaled "
                   "to fit 20 × 20 and centred by its centre of mass: the way MNIST was made.")
if digit is not None:
    x = images.as_input(digit)                                   # (1, 784) in [0, 1]
    probabilities = {name: predict(x)[0] for name, predict in source.predictors.items()}
    tops = {name: evaluate.top_digit(p) for name, p in probabilities.items()}     # name -> (digit, p)
    st.markdown(" · ".join(f"{name} says **{digit}** (p = {p:.3f})" for name, (digit, p) in tops.items()))
    st.plotly_chart(figures.probabilities_figure(probabilities), key="try.probs")
    st.caption(teaching.NOTICE["probabilities"])

# ---- the validation set --------------------------------------------------------------------------
st.subheader("Where the model goes wrong")
twin = st.radio("Twin (for this section and the Kaggle file)", list(source.predictors), horizontal=True,
                key="try.twin") if len(source.predictors) > 1 else next(iter(source.predictors))
if source.x_val is None:
    st.error(source.val_note)
else:
    probs = np.asarray(source.predictors[twin](source.x_val))
    predicted = evaluate.predicted_digits(probs)
    accuracy = evaluate.accuracy(source.y_val, predicted)
    st.write(f"{twin} gets **{accuracy:.1%}** of {teaching.plural(len(source.y_val), 'validation digit')} right "
             f"({source.val_note}).")
    matrix = evaluate.confusion_matrix(source.y_val, predicted)
    st.plotly_chart(figures.confusion_figure(matrix), key="try.confusion")
    pair = evaluate.most_confused(matrix)
    st.caption(teaching.NOTICE["confusion"] + ("" if pair is None else
               f" The largest of them: a true {pair[0]} read as {pair[1]}, "
               f"{teaching.plural(pair[2], 'time')}."))
    wrong = evaluate.misclassified(source.y_val, probs, GALLERY_SIZE)
    if len(wrong):
        st.markdown(f"**The {len(wrong)} most confident mistakes** (true → predicted, confidence):")
        pictures = np.round(np.asarray(source.x_val[wrong]) * 255).astype(np.uint8)
        titles = [f"{source.y_val[i]} → {predicted[i]} ({probs[i, predicted[i]]:.0%})" for i in wrong]
        st.plotly_chart(figures.gallery_figure(pictures, titles), key="try.gallery")
    else:
        st.success("No mistakes on the validation digits.")

# ---- Kaggle ---------------------------------------------------------------------------------------
st.subheader("Kaggle: predict test.csv, download submission.csv")
st.write("Upload Kaggle's Digit Recognizer test.csv (pixel0,…,pixel783, no labels); the chosen twin "
         "labels every row and you get the submission file Kaggle expects: ImageId (from 1) and Label.")
st.file_uploader("test.csv (or .csv.gz)", key="try.kaggle_file", on_change=on_kaggle_upload,
                 max_upload_size=upload_limit_mb(nn_data.max_csv_bytes(server.host_limits().max_rows)))
if "try.kaggle_error" in st.session_state:
    st.error(st.session_state["try.kaggle_error"])
test_set = st.session_state.get("try.kaggle_data")
if test_set is not None:
    st.write(f"{test_set.name}: {teaching.plural(len(test_set), 'digit')}.")
    made_by = (source.label, twin, id(test_set))
    if st.button(f"Predict with {source.label} · {twin}", key="try.predict"):
        st.session_state["try.submission"] = (made_by, evaluate.make_submission(source.predictors[twin], test_set))
    made, submission = st.session_state.get("try.submission", (None, None))
    if made == made_by:
        if test_set.labels is not None:      # a labelled file: say how many labels it got right
            hits = evaluate.hits(test_set.labels, submission["Label"].to_numpy())
            st.write(f"The file has labels too: {hits:,} of {len(test_set):,} right ({hits / len(test_set):.1%}).")
        st.dataframe(submission.head(10), hide_index=True, width="content")
        st.download_button("Download submission.csv", submission.to_csv(index=False).encode(),
                           file_name="submission.csv", mime="text/csv", on_click="ignore",
                           key="try.download")

"""The Train page's settings form: taken from the link (query string) on the first visit, then kept
in session state; while they make sense, the address bar holds them as a shareable preset.
(app_support.train_settings converts them; this module draws them.)"""

import streamlit as st

from nn_core.config import ACTIVATION_NAMES, INIT_NAMES, OPTIMIZER_NAMES
from nn_core.errors import UserError
from nn_core.limits import Limits

from . import train_settings as ts

SETTINGS = "train.settings"         # the settings' widget values, kept while on other pages
LINK_WARNING = "train.link_warning"  # what a shared link asked for that could not be used
WIDGET = "train.w."                 # prefix of the settings widgets' keys


def settings_now() -> dict:
    """The settings as the widgets hold them right now."""
    return {name: st.session_state[WIDGET + name] for name in ts.default_settings()}


def forget_link_warning() -> None:
    st.session_state.pop(LINK_WARNING, None)


def settings_form(limits: Limits) -> str | None:
    """The settings widgets, filled from the link or this session; under them, why the settings
    cannot train, if so (returned too); else the address bar is brought up to date with them."""
    if SETTINGS not in st.session_state:
        st.session_state[SETTINGS], ignored = ts.settings_from_query(st.query_params.to_dict(), limits)
        if ignored:
            st.session_state[LINK_WARNING] = ("Some settings in this link could not be used, so their "
                                              "defaults are shown instead: " + "; ".join(ignored))
    for name, value in st.session_state[SETTINGS].items():
        st.session_state.setdefault(WIDGET + name, value)     # widgets forget their values off-page
    if LINK_WARNING in st.session_state:
        st.warning(st.session_state[LINK_WARNING])
    widgets(limits)

    settings = settings_now()
    st.session_state[SETTINGS] = settings
    try:
        ts.config_from_settings(settings).validated(limits)
    except UserError as e:
        st.error(str(e))
        return str(e)
    query = ts.settings_to_query(settings)
    if st.query_params.to_dict() != query:
        st.query_params.from_dict(query)     # the address bar now holds a shareable preset
    return None


def widgets(limits: Limits) -> None:
    with st.container(border=True):
        c1, c2, c3, c4 = st.columns(4)
        c1.text_input("Hidden layer sizes", key=WIDGET + "hidden", help=ts.HELP["hidden"])
        c1.selectbox("Activation", ACTIVATION_NAMES, key=WIDGET + "activation", help=ts.HELP["activation"])
        c1.selectbox("Initialisation", INIT_NAMES, key=WIDGET + "init", help=ts.HELP["init"])
        c2.selectbox("Optimizer", OPTIMIZER_NAMES, key=WIDGET + "optimizer", help=ts.HELP["optimizer"])
        # No min_value on the number fields: the browser would keep the old value while showing the
        # typed one. Any number reaches the page, whose check names it, and Train refuses it.
        c2.number_input("Learning rate", step=0.01, format="%g", key=WIDGET + "lr", help=ts.HELP["lr"])
        c2.number_input("Batch size (0 = full batch)", step=16, key=WIDGET + "batch_size",
                        help=ts.HELP["batch_size"])
        c3.number_input("Epochs", step=1, key=WIDGET + "epochs",
                        help=f"Passes over the training rows (this server allows up to {limits.max_epochs}).")
        c3.number_input("L2 weight decay", step=1e-4, format="%g", key=WIDGET + "l2", help=ts.HELP["l2"])
        c3.number_input("Dropout", step=0.05, format="%g", key=WIDGET + "dropout", help=ts.HELP["dropout"])
        c4.number_input("Seed", step=1, key=WIDGET + "seed", help=ts.HELP["seed"])
        c4.toggle("float64", key=WIDGET + "float64", help=ts.HELP["float64"])

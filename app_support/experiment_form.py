"""The Experiments page's settings and runs: widget values <-> the URL <-> nn_core.experiments.

The experiment lives in the query string (?preset=...&vary=lr&values=0.001,0.1,3&twin=numpy plus
the Train page's base settings), so a teacher can share it as a link. The runs are ordinary
nn_core.run.Runs on the app's trainer pool, kept server-wide for the student and in the run store
like a Train run (app_support.session.start_experiment), so a reload or a closed tab loses nothing.
"""

import streamlit as st

from app_support import server, session
from app_support import train_settings as ts
from nn_core.config import ACTIVATION_NAMES, INIT_NAMES, OPTIMIZER_NAMES
from nn_core.errors import UserError
from nn_core.experiments import PRESETS, VARIABLES, Experiment, ExperimentRuns, make_experiment

WIDGET = "experiments.w."          # prefix of this page's widget keys
SETTINGS = "experiments.settings"  # every widget value, kept while on other pages
CURRENT = "experiments.current"    # the student's latest ExperimentRuns (nn_core.experiments)
LINK_WARNING = "experiments.link_warning"
PRESET = "experiments.preset"      # the preset last chosen (by a click or a link)
TWINS = {"numpy": "NumPy", "torch": "PyTorch"}
FORM = ("vary", "values", "twin")  # this page's own settings; the rest are the Train page's
NUMBER = "number_input"
# The base settings' widgets, held equal across the runs: (column, st.* function, label, setting, options).
BASE_WIDGETS = (
    (0, "text_input", "Hidden layer sizes", "hidden", {}),
    (0, "selectbox", "Activation", "activation", {"options": ACTIVATION_NAMES}),
    (0, "selectbox", "Initialisation", "init", {"options": INIT_NAMES}),
    (1, "selectbox", "Optimizer", "optimizer", {"options": OPTIMIZER_NAMES}),
    (1, NUMBER, "Learning rate", "lr", {"step": 0.01, "format": "%g"}),
    (1, NUMBER, "Batch size (0 = full batch)", "batch_size", {"step": 16}),
    (2, NUMBER, "Epochs", "epochs", {"step": 1}),
    (2, NUMBER, "L2 weight decay", "l2", {"step": 1e-4, "format": "%g"}),
    (2, NUMBER, "Dropout", "dropout", {"step": 0.05, "format": "%g"}),
    (3, NUMBER, "Seed", "seed", {"step": 1}),
    (3, "toggle", "float64", "float64", {}),
)


def preset_settings(name: str) -> dict:
    """The form's values for a preset: its setting, its values, and its base on top of the defaults."""
    preset = PRESETS[name]
    base = ts.settings_from_config(ts.config_from_settings(ts.default_settings()).replace(**preset.base))
    return {**base, "vary": preset.key, "values": ",".join(preset.values), "twin": "numpy"}


def settings_from_query(query: dict) -> tuple[dict, list[str]]:
    """The form from a link: a preset, then the link's own values on top; one note per value ignored."""
    settings, problems = ts.settings_from_query(query, server.host_limits())
    if query.get("preset") in PRESETS:
        used = {k for k in query if not any(p.startswith(f"{k}=") for p in problems)}   # read from the link
        linked = used | ({"float64"} if "dtype" in used else set())
        settings = preset_settings(query["preset"]) | {k: v for k, v in settings.items() if k in linked}
    else:
        settings |= {"vary": "optimizer", "values": ",".join(PRESETS["optimizer_race"].values), "twin": "numpy"}
        if "preset" in query:
            problems.append(f"preset={query['preset']!r} (choose one of {', '.join(PRESETS)})")
    if query.get("vary") in VARIABLES:
        settings["vary"] = query["vary"]
        settings["values"] = query.get("values", settings["values"])
    elif "vary" in query:       # its values would belong to another setting: both are left out
        problems.append(f"vary={query['vary']!r} (choose one of {', '.join(VARIABLES)})")
    elif "values" in query:
        settings["values"] = query["values"]
    if query.get("twin") in TWINS:
        settings["twin"] = query["twin"]
    elif "twin" in query:
        problems.append(f"twin={query['twin']!r} (choose one of {', '.join(TWINS)})")
    return settings, problems


def settings_of(started: ExperimentRuns) -> dict:
    """The form's values that make the experiment `started`."""
    experiment = started.experiment
    return {**ts.settings_from_config(experiment.base), "vary": experiment.key,
            "values": ",".join(experiment.texts), "twin": started.impl}


def load_settings() -> None:
    """On the first visit, the form from the link, else (a bare address) from the student's latest
    experiment, else the optimizer race; then the widgets keep their values."""
    if SETTINGS not in st.session_state:
        query = st.query_params.to_dict()
        latest = session.latest_experiment()
        if not query and latest is not None:
            st.session_state[SETTINGS], ignored = settings_of(latest), []
        else:
            st.session_state[SETTINGS], ignored = settings_from_query(query)
        if query.get("preset") in PRESETS:
            st.session_state[PRESET] = query["preset"]
        if ignored:
            st.session_state[LINK_WARNING] = ("Some settings in this link could not be used, so the form "
                                              "keeps the preset's or the default value of each: "
                                              + "; ".join(ignored))
    for name, value in st.session_state[SETTINGS].items():
        st.session_state.setdefault(WIDGET + name, value)


def apply_preset(name: str) -> None:
    """Button callback: fill the form with a preset (runs before the page is drawn)."""
    for key, value in preset_settings(name).items():
        st.session_state[WIDGET + key] = value
    st.session_state[PRESET] = name


def settings_now() -> dict:
    settings = {name: st.session_state[WIDGET + name] for name in (*ts.default_settings(), *FORM)}
    st.session_state[SETTINGS] = settings
    return settings


def experiment_from(settings: dict) -> Experiment:
    """Raises UserError (one sentence) if a setting or value is wrong."""
    base = ts.config_from_settings(settings)
    return make_experiment(base, settings["vary"], settings["values"].split(","), server.host_limits())


def is_still(name: str, settings: dict) -> bool:
    """True while the form keeps what the preset's lesson needs: its setting, values and base."""
    wanted = preset_settings(name)
    return all(settings[key] == wanted[key] for key in ("vary", "values", *PRESETS[name].base))


def keep_in_url(settings: dict) -> None:
    """The experiment in the address bar: a link to share; the preset's name while it is unchanged."""
    query = ts.settings_to_query(settings) | {name: str(settings[name]) for name in FORM}
    preset = st.session_state.get(PRESET)
    if preset in PRESETS and is_still(preset, settings):
        query["preset"] = preset
    if st.query_params.to_dict() != query:
        st.query_params.from_dict(query)


def start(experiment: Experiment, impl: str) -> ExperimentRuns:
    """One run per value on the app's trainer pool; they wait in its queue like any run."""
    if impl == "torch" and not server.torch_available():
        raise UserError(f"{server.TORCH_MISSING}, or choose the NumPy twin.")
    st.session_state[CURRENT] = session.start_experiment(experiment, impl)
    return st.session_state[CURRENT]


def current() -> ExperimentRuns | None:
    """The student's latest experiment: the one this tab started, or after a reload (or in another
    tab, or after a server restart) the one the student started last, live or stored."""
    st.session_state[CURRENT] = session.latest_experiment()
    return st.session_state[CURRENT]

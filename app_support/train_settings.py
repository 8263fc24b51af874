"""The Train page's settings: widget values <-> TrainConfig <-> the page's URL.

The settings live in the URL's query string (?hidden=32&optimizer=sgd&lr=0.1) so a teacher can
share a preset as a link. Every value read from a link goes through TrainConfig's own checks.
"""

from nn_core.config import TrainConfig, parse_hidden
from nn_core.errors import UserError
from nn_core.limits import Limits

_DEFAULT = TrainConfig()

# setting -> how to read it from a query string. "float64" is the dtype switch (a bool widget).
PARSERS = {
    "hidden": parse_hidden,
    "activation": str,
    "init": str,
    "optimizer": str,
    "lr": float,
    "batch_size": int,
    "epochs": int,
    "l2": float,
    "dropout": float,
    "seed": int,
    "dtype": str,
}


def default_settings() -> dict:
    """Widget values for TrainConfig's defaults: hidden as text, dtype as the float64 switch."""
    return settings_from_config(_DEFAULT)


def settings_from_config(config: TrainConfig) -> dict:
    return {
        "hidden": ",".join(map(str, config.hidden)),
        "activation": config.activation,
        "init": config.init,
        "optimizer": config.optimizer,
        "lr": config.lr,
        "batch_size": config.batch_size,
        "epochs": config.epochs,
        "l2": config.l2,
        "dropout": config.dropout,
        "seed": config.seed,
        "float64": config.dtype == "float64",
    }


def config_from_settings(settings: dict) -> TrainConfig:
    """Widget values -> TrainConfig (not yet checked against the host's limits). Raises ConfigError."""
    return TrainConfig(
        hidden=parse_hidden(settings["hidden"]),
        activation=settings["activation"],
        init=settings["init"],
        optimizer=settings["optimizer"],
        lr=float(settings["lr"]),
        batch_size=int(settings["batch_size"]),
        epochs=int(settings["epochs"]),
        l2=float(settings["l2"]),
        dropout=float(settings["dropout"]),
        seed=int(settings["seed"]),
        dtype="float64" if settings["float64"] else "float32",
    )


def settings_to_query(settings: dict) -> dict:
    """Widget values -> {name: text} for st.query_params."""
    query = {name: str(settings[name]) for name in PARSERS if name in settings}
    query["dtype"] = "float64" if settings["float64"] else "float32"
    query["hidden"] = settings["hidden"].replace(" ", "")
    return query


def settings_from_query(query: dict, limits: Limits) -> tuple[dict, list[str]]:
    """Settings from a link's query values, defaults for the rest, and one note per value ignored."""
    changes, problems = {}, []
    for name, read in PARSERS.items():
        if name not in query:
            continue
        text = query[name]
        try:
            value = read(text)
            TrainConfig(**{name: value}).validated(limits)   # the same checks as a real run
        except (ValueError, TypeError) as e:                 # UserError is a ValueError
            reason = str(e) if isinstance(e, UserError) else "not a valid value"
            problems.append(f"{name}={text!r} ({reason})")
            continue
        changes[name] = value
    config = _DEFAULT.replace(**changes)
    return settings_from_config(config), problems

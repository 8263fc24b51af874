"""The Train page's settings: widget values <-> TrainConfig <-> the page's URL.

The settings live in the URL's query string (?hidden=32&optimizer=sgd&lr=0.1) so a teacher can
share a preset as a link. Every value read from a link goes through TrainConfig's own checks.
"""

from nn_core.config import OPTIMIZER_NAMES, TrainConfig, parse_hidden
from nn_core.errors import UserError
from nn_core.init import DESCRIPTIONS as INIT_DESCRIPTIONS
from nn_core.limits import Limits
from nn_core.optim import LR_RANGE, UPDATE_LATEX

from . import teaching

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


# setting -> its help text (the "?" next to the widget). Markdown; $...$ is LaTeX.
HELP = {
    "hidden": "Units per hidden layer, separated by commas, e.g. 128,64. Empty: no hidden layer "
              "(softmax regression: one weight image per digit).",
    "activation": "f applied to every hidden unit: relu max(0, z); leaky_relu max(0.01 z, z); "
                  "sigmoid 1 / (1 + e^(−z)); tanh.",
    "init": "What the starting weights are drawn from (once, from the seed; both twins start from "
            "the same numbers):\n\n" + "\n".join(f"- **{name}**: {text}"
                                                   for name, text in INIT_DESCRIPTIONS.items()),
    "optimizer": "How each weight w moves, given its gradient g and the learning rate η "
                 "(the formulas of torch.optim, written out in nn_core/optim.py):\n\n"
                 + "\n".join(f"- **{name}**: ${UPDATE_LATEX[name]}$" for name in OPTIMIZER_NAMES),
    "lr": "η, the step size. A sensible range depends on the optimizer:\n\n"
          + "\n".join(f"- **{name}**: {low:g} to {high:g}" for name, (low, high) in LR_RANGE.items())
          + "\n\nAdam and RMSprop divide by the gradient's own size, so lr 0.1, fine for momentum "
            "SGD, wrecks them; use about 1e-3.",
    "batch_size": "Rows per step. 0 puts every training row in one step (full-batch gradient descent).",
    "l2": "Adds $\\frac{\\lambda}{2}\\sum W^2$ over the weight matrices (not the biases) to the loss the "
          "optimizer sees, so every weight's gradient gains λ·W. That equals torch.optim.SGD's "
          "weight_decay = λ (and Adam's, not AdamW's decoupled decay). The plotted loss is the "
          "cross-entropy alone, without this penalty. 0 turns it off; try 1e-4.",
    "dropout": "Probability p of switching off each hidden unit during a training step (the kept "
               "ones are scaled by 1/(1−p)). Both twins drop the same units: the masks are drawn "
               "once per step from the seed, so the twins still agree to rounding.",
    "seed": "Fixes the starting weights, the train/validation split, the batch order and the "
            "dropout masks: the same seed gives the same run.",
    "float64": f"Train in 64-bit floats instead of 32-bit: slower, and {teaching.PRECISION}, so "
               f"the twin gap drops from {teaching.GAP_FLOAT32} to {teaching.GAP_FLOAT64}.",
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

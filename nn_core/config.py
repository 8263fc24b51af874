"""TrainConfig: every hyperparameter of one run, in one frozen dataclass, validated at the boundary."""

import math
from dataclasses import asdict, dataclass, replace

from .errors import ConfigError, LimitError
from .limits import Limits

N_INPUTS = 784   # 28 x 28 pixels
N_OUTPUTS = 10   # digits 0-9

ACTIVATION_NAMES = ("relu", "leaky_relu", "sigmoid", "tanh")
INIT_NAMES = ("he", "xavier", "uniform", "zeros")
OPTIMIZER_NAMES = ("sgd", "momentum", "nesterov", "rmsprop", "adam")
DTYPE_NAMES = ("float32", "float64")


@dataclass(frozen=True)
class TrainConfig:
    hidden: tuple[int, ...] = (128, 64)   # widths of the hidden layers
    activation: str = "relu"
    init: str = "he"
    optimizer: str = "momentum"
    lr: float = 0.1
    batch_size: int = 64                  # 0 means full batch: every training row in one step
    epochs: int = 20
    l2: float = 0.0                       # weight decay on weight matrices (not biases)
    dropout: float = 0.0                  # probability of dropping a hidden unit while training
    seed: int = 0
    dtype: str = "float32"
    val_fraction: float = 0.2
    eval_every: int = 50                  # steps between validation measurements (plus each epoch end)
    diag_every: int = 5                   # steps between gradient / weight diagnostics

    @property
    def layer_sizes(self) -> tuple[int, ...]:
        """(784, *hidden, 10)."""
        return (N_INPUTS, *self.hidden, N_OUTPUTS)

    @property
    def n_params(self) -> int:
        sizes = self.layer_sizes
        return sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))

    def to_dict(self) -> dict:
        d = asdict(self)
        d["hidden"] = list(self.hidden)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        if "hidden" in known:
            h = known["hidden"]
            known["hidden"] = parse_hidden(h) if isinstance(h, str) else tuple(int(x) for x in h)
        return cls(**known)

    def replace(self, **changes) -> "TrainConfig":
        return replace(self, **changes)

    def validated(self, limits: Limits | None = None) -> "TrainConfig":
        """Return self if every setting makes sense (and fits `limits`), else raise ConfigError."""
        _check_choice("activation", self.activation, ACTIVATION_NAMES)
        _check_choice("initialisation", self.init, INIT_NAMES)
        _check_choice("optimizer", self.optimizer, OPTIMIZER_NAMES)
        _check_choice("dtype", self.dtype, DTYPE_NAMES)
        for width in self.hidden:
            if not isinstance(width, int) or width < 1:
                raise ConfigError(f"hidden layer width {width!r} is not a positive whole number.")
        _check_number("learning rate", self.lr, low=0, low_open=True, high=100,
                      hint="try a value like 0.01 or 0.1")
        _check_number("L2 weight decay", self.l2, low=0, high=10, hint="0 turns it off; try 1e-4")
        _check_number("dropout", self.dropout, low=0, high=1, high_open=True,
                      hint="0 turns it off; try 0.2")
        _check_number("validation fraction", self.val_fraction, low=0, low_open=True, high=0.9,
                      hint="try 0.2")
        for name, value in (("batch size", self.batch_size), ("epochs", self.epochs),
                            ("seed", self.seed), ("eval_every", self.eval_every),
                            ("diag_every", self.diag_every)):
            if isinstance(value, bool) or not isinstance(value, int):
                raise ConfigError(f"{name} must be a whole number, got {value!r}.")
        if self.batch_size < 0:
            raise ConfigError(f"batch size must be 0 (full batch) or a positive number, got {self.batch_size}.")
        if self.epochs < 1:
            raise ConfigError(f"epochs must be at least 1, got {self.epochs}.")
        if self.seed < 0:
            raise ConfigError(f"seed must be 0 or a positive whole number, got {self.seed}.")
        if self.eval_every < 1 or self.diag_every < 1:
            raise ConfigError("eval_every and diag_every must be at least 1.")
        if limits is not None:
            self._check_limits(limits)
        return self

    def _check_limits(self, limits: Limits) -> None:
        caps = (
            ("hidden layers", len(self.hidden), limits.max_layers, "NN_MAX_LAYERS", "use fewer layers"),
            ("widest layer", max(self.hidden, default=0), limits.max_width, "NN_MAX_WIDTH",
             "use narrower layers"),
            ("parameters", self.n_params, limits.max_params, "NN_MAX_PARAMS", "use smaller layers"),
            ("epochs", self.epochs, limits.max_epochs, "NN_MAX_EPOCHS", "train for fewer epochs"),
        )
        for what, value, cap, env, fix in caps:
            if value > cap:
                raise LimitError(f"{what}: {value:,} is over this server's cap of {cap:,} "
                                 f"({env}); {fix}.")


def parse_hidden(text: str) -> tuple[int, ...]:
    """'128, 64' -> (128, 64). An empty string means no hidden layer (softmax regression)."""
    text = str(text).strip()
    if text == "":
        return ()
    widths = []
    for position, part in enumerate(text.split(","), start=1):
        part = part.strip()
        if part == "":
            raise ConfigError(f"hidden layer sizes {text!r} have an empty entry at position {position}; "
                              "write whole numbers separated by commas, like 128,64.")
        try:
            width = int(part)
        except ValueError:
            raise ConfigError(f"hidden layer size {part!r} is not a whole number; "
                              "write sizes like 128,64.") from None
        if width < 1:
            raise ConfigError(f"hidden layer size {width} must be at least 1; write sizes like 128,64.")
        widths.append(width)
    return tuple(widths)


def _check_choice(what: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ConfigError(f"unknown {what} {value!r}; choose one of {', '.join(allowed)}.")


def _check_number(what, value, *, low, high, low_open=False, high_open=False, hint=""):
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{what} must be a number, got {value!r}; {hint}.") from None
    too_low = x <= low if low_open else x < low
    too_high = x >= high if high_open else x > high
    if not math.isfinite(x) or too_low or too_high:
        lo = "(" if low_open else "["
        hi = ")" if high_open else "]"
        shown = f"{x:g}" if isinstance(value, float) else value    # 1000.0 as 1000, like the field
        raise ConfigError(f"{what} {shown} is outside {lo}{low}, {high}{hi}; {hint}.")

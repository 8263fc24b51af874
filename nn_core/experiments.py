"""Controlled experiments: several runs that differ in exactly one setting.

An Experiment is a base TrainConfig, one setting to vary and 2 to 6 values. Every run uses the
same seed, so wherever the layer sizes agree the runs start from the very same initial weights
(twins.initial_params draws them from the seed) and see the same mini-batches in the same order
(trainer.epoch_order): whatever differs between their curves comes from the one setting.
Each run is an ordinary nn_core.run.Run; the results table and the verdict are read from records.
"""

from dataclasses import dataclass, field

from .config import TrainConfig, parse_hidden
from .errors import ConfigError
from .limits import Limits

MIN_VALUES, MAX_VALUES = 2, 6


def _hidden(text: str) -> tuple[int, ...]:
    """One value of `hidden`: widths joined by '-' (commas separate the values), 'none' for no
    hidden layer: '128-64' -> (128, 64)."""
    return () if text.strip().lower() == "none" else parse_hidden(text.replace("-", ","))


def _hidden_text(widths) -> str:
    return "-".join(map(str, widths)) or "none"


def _number_text(value) -> str:
    return f"{value:g}"


# setting -> (read one value from text, write it back as text). The settings a learner can vary.
VARIABLES = {
    "optimizer": (str, str),
    "lr": (float, _number_text),
    "batch_size": (int, str),
    "init": (str, str),
    "activation": (str, str),
    "hidden": (_hidden, _hidden_text),
    "l2": (float, _number_text),
    "dropout": (float, _number_text),
}

SAME_START = ("Every run starts from the same initial weights and sees the same mini-batches in the "
              "same order; only {key} differs.")
# setting -> what is held equal when it varies, where that is not SAME_START.
HELD_EQUAL = {
    "batch_size": ("Every run starts from the same initial weights and sees the training rows in "
                   "the same order, cut into batches of different sizes."),
    "init": ("Each run draws its initial weights from the same seed with its own scheme; all see "
             "the same mini-batches in the same order."),
    "hidden": ("The runs have different layer sizes, so they cannot start from the same weights: "
               "each draws its own from the same seed; all see the same mini-batches in the same order."),
}


@dataclass(frozen=True)
class Experiment:
    base: TrainConfig
    key: str
    values: tuple            # parsed values, one per run

    @property
    def texts(self) -> list[str]:
        return [VARIABLES[self.key][1](v) for v in self.values]

    @property
    def labels(self) -> list[str]:
        """One per run, like 'optimizer=adam'."""
        return [f"{self.key}={text}" for text in self.texts]

    def configs(self) -> list[TrainConfig]:
        return [self.base.replace(**{self.key: value}) for value in self.values]

    def held_equal(self) -> str:
        """One sentence: what the runs share."""
        return HELD_EQUAL.get(self.key, SAME_START.format(key=self.key))


@dataclass
class ExperimentRuns:
    """An experiment started: its runs (nn_core.run.Run while they train, else stored runs), one per
    value in the experiment's order, all training the twin `impl` ('numpy' or 'torch')."""
    experiment: Experiment
    impl: str
    runs: list
    id: int = 0                    # the run store's id (0: not in the store)
    number: int = 0                # the student's experiment number

    @property
    def active(self) -> bool:
        return any(not run.finished for run in self.runs)

    def results(self) -> list["RunResult"]:
        return results_of(self.experiment.labels, self.runs, self.impl)

    def spec(self) -> dict:
        """What the run store keeps to rebuild the experiment (experiment_from_spec), as JSON can hold."""
        return {"base": self.experiment.base.to_dict(), "key": self.experiment.key,
                "values": list(self.experiment.values), "texts": self.experiment.texts,
                "labels": self.experiment.labels, "impl": self.impl}


def experiment_from_spec(spec: dict) -> tuple[Experiment, str]:
    """The experiment and its twin back from ExperimentRuns.spec(), read as it was started (not
    checked again against today's caps: it has already run)."""
    values = tuple(tuple(v) if isinstance(v, list) else v for v in spec["values"])    # hidden: widths
    return Experiment(TrainConfig.from_dict(spec["base"]), spec["key"], values), spec["impl"]


def parse_vary(text: str) -> tuple[str, list[str]]:
    """'optimizer=sgd,adam' -> ('optimizer', ['sgd', 'adam'])."""
    key, sep, values = str(text).partition("=")
    if not sep:
        raise ConfigError(f"--vary {text!r} needs the form KEY=V1,V2, like optimizer=sgd,adam.")
    return key.strip(), [v.strip() for v in values.split(",")]


def make_experiment(base: TrainConfig, key: str, texts, limits: Limits | None = None) -> Experiment:
    """Check the key and every value (through TrainConfig's own checks); raises ConfigError."""
    if key not in VARIABLES:
        raise ConfigError(f"cannot vary {key!r}; choose one of {', '.join(VARIABLES)}.")
    texts = [str(t).strip() for t in texts]
    if not MIN_VALUES <= len(texts) <= MAX_VALUES:
        raise ConfigError(f"give {MIN_VALUES} to {MAX_VALUES} values of {key} to compare, separated "
                          f"by commas; got {len(texts)}.")
    read, _ = VARIABLES[key]
    values = []
    for text in texts:
        if text == "":
            raise ConfigError(f"one of the values of {key} is empty; write them separated by commas, "
                              f"like {key}={_example(key)}.")
        try:
            value = read(text)
        except ValueError as e:
            if isinstance(e, ConfigError):
                raise
            raise ConfigError(f"{key} value {text!r} is not a valid {key}; write values like "
                              f"{key}={_example(key)}.") from None
        base.replace(**{key: value}).validated(limits)
        if value in values:
            raise ConfigError(f"the value {text} of {key} is given twice; give each value once.")
        values.append(value)
    return Experiment(base.validated(limits), key, tuple(values))


def _example(key: str) -> str:
    return ",".join(PRESET_VALUES_BY_KEY.get(key, ("0.01", "0.1")))


@dataclass(frozen=True)
class Preset:
    title: str
    key: str
    values: tuple[str, ...]
    base: dict = field(default_factory=dict)    # settings of the base config the lesson needs
    lesson: str = ""                            # what to look for, in one sentence


PRESETS = {
    "optimizer_race": Preset(
        "Optimizer race", "optimizer", ("sgd", "momentum", "nesterov", "rmsprop", "adam"),
        {"lr": 0.01, "epochs": 5},
        "At one learning rate, 0.01, plain SGD creeps, while momentum, Nesterov, RMSprop and Adam "
        "bring the loss down much faster."),
    "learning_rate": Preset(
        "Learning rate: small, right, big", "lr", ("0.001", "0.1", "3"),
        {"optimizer": "sgd", "epochs": 5},
        "Too small barely moves in five epochs; too big overshoots and the loss blows up."),
    "initialisation": Preset(
        "Initialisation", "init", ("uniform", "xavier", "he", "zeros"),
        {"optimizer": "sgd", "lr": 0.1, "epochs": 5},
        "He and Xavier start near a loss of 2.3 (a guess among 10 digits) and learn; uniform[-0.5, 0.5) "
        "(the original script's) draws weights so large that the loss starts several times higher and "
        "ends behind; all zeros never breaks the symmetry."),
    "sigmoid_vs_relu": Preset(
        "Sigmoid vs ReLU in five layers", "activation", ("sigmoid", "relu"),
        {"hidden": (64, 64, 64, 64, 64), "init": "xavier", "optimizer": "sgd", "lr": 0.1, "epochs": 5},
        "Through five sigmoid layers the gradient shrinks at every layer (sigmoid' is at most 0.25), "
        "so the sigmoid network hardly learns in five epochs; ReLU passes the gradient on."),
}
PRESET_VALUES_BY_KEY = {p.key: p.values[:2] for p in PRESETS.values()}


def preset_experiment(name: str, base: TrainConfig | None = None, limits: Limits | None = None) -> Experiment:
    preset = PRESETS[name]
    return make_experiment((base or TrainConfig()).replace(**preset.base), preset.key, preset.values, limits)


# ---- results ----------------------------------------------------------------------------------------
@dataclass
class RunResult:
    """How one run of an experiment went, for one twin."""
    run: str                        # its label, like 'optimizer=adam'
    impl: str
    outcome: str                    # 'done', 'diverged', 'stopped', 'limit', 'failed', 'running', ...
    first_loss: float | None        # the step-1 batch loss: equal for runs with the same start
    final_val_acc: float | None     # the last validation accuracy measured (None if it diverged)
    best_val_acc: float | None      # the best at an epoch's end
    best_epoch: int | None
    seconds: float | None           # wall time of the twin's last step
    samples_per_s: float | None

    @property
    def diverged(self) -> bool:
        return self.outcome == "diverged"

    def row(self) -> dict:
        return {"run": self.run, "twin": self.impl, "outcome": self.outcome,
                "step-1 loss": self.first_loss, "final val acc": self.final_val_acc,
                "best epoch": self.best_epoch, "time (s)": self.seconds,
                "samples/s": self.samples_per_s, "diverged": self.diverged}


def run_result(label: str, impl: str, records: list, outcome: str) -> RunResult:
    """records: one twin's nn_core.trainer.Records; outcome: how the run ended (Run.status)."""
    measured = [r for r in records if r.val_acc is not None]
    epoch_ends = [r for r in measured if r.event in ("epoch_end", "done")]
    best = max(epoch_ends, key=lambda r: r.val_acc, default=None)
    last = records[-1] if records else None
    return RunResult(label, impl, outcome,
                     first_loss=records[0].loss if records else None,
                     final_val_acc=measured[-1].val_acc if measured and outcome != "diverged" else None,
                     best_val_acc=best.val_acc if best else None,
                     best_epoch=best.epoch if best else None,
                     seconds=last.wall_time if last else None,
                     samples_per_s=last.samples_per_s if last else None)


def results_of(labels, runs, impl: str) -> list[RunResult]:
    """One RunResult per run of an experiment (nn_core.run.Run objects), for twin impl."""
    return [run_result(label, impl, run.records(impl), run.status) for label, run in zip(labels, runs)]


def verdict(results: list[RunResult]) -> str:
    """One line, computed from the results: which run ended best, which lowest, which diverged."""
    finished = [r for r in results if r.outcome == "done" and r.final_val_acc is not None]
    diverged = [r.run for r in results if r.diverged]
    unfinished = [r.run for r in results if r.outcome != "done" and not r.diverged]
    parts = []
    if finished:
        best = max(finished, key=lambda r: r.final_val_acc)
        worst = min(finished, key=lambda r: r.final_val_acc)
        if len(finished) > 1 and best.final_val_acc - worst.final_val_acc < 0.005:
            parts.append(f"the {len(finished)} finished runs ended within half a point of each other "
                         f"({worst.final_val_acc:.1%} to {best.final_val_acc:.1%})")
        else:
            parts.append(f"{best.run} reached the best final validation accuracy, {best.final_val_acc:.1%}")
            if len(finished) > 1:
                parts.append(f"{worst.run} the lowest, {worst.final_val_acc:.1%}")
    if diverged:
        parts.append(f"{_joined(diverged)} diverged (the loss blew up)")
    if unfinished:
        parts.append(f"{_joined(unfinished)} did not finish")
    if not parts:
        return "No run has ended yet."
    line = "; ".join(parts) + "."
    return line[0].upper() + line[1:] if line.startswith("the ") else line


def _joined(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]

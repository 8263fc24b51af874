"""The command line: python -m nn_core {train,compare,lr-find,predict,gradcheck,bench}.

Every mistake a person can make (bad data, settings, model files, host limits, a malformed command
line) prints one line `error: <message>` on stderr and exits 2, with no traceback. Ctrl-C exits 130.
`train` drives the same nn_core.run.Run object the app uses, polling its records.
"""

import argparse
import json
import math
import os
import signal
import sys
import threading
import time
from pathlib import Path

from . import data
from .config import (ACTIVATION_NAMES, DTYPE_NAMES, INIT_NAMES, OPTIMIZER_NAMES, TrainConfig,
                     parse_hidden)
from .errors import ConfigError, ModelFileError, UserError
from .experiments import VARIABLES
from .limits import limits_from_env
from .lr_find import END_LR, PROBE_STEPS, RULE, START_LR
from .optional_torch import torch_available
from .optional_torch import INSTALL_TORCH as PIP_INSTALL_TORCH

EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130
TWINS = {"numpy": ("numpy",), "torch": ("torch",), "both": ("numpy", "torch")}
INSTALL_TORCH = f"install it with: {PIP_INSTALL_TORCH}"


class UsageError(UserError):
    """A malformed command line (argparse's complaints)."""


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one `error: ...` line (via UsageError), not a usage dump."""

    def error(self, message):
        raise UsageError(message)


def say(*parts, json_mode=False):
    """Human-readable output: stdout, or stderr when stdout carries JSON lines."""
    print(*parts, file=sys.stderr if json_mode else sys.stdout, flush=True)


def warn(message):
    print(f"warning: {message}", file=sys.stderr, flush=True)


# ---- argument parsing -------------------------------------------------------------------------------
def build_parser() -> Parser:
    parser = Parser(prog="python -m nn_core",
                    description="Train the same MNIST MLP in NumPy (from scratch) and in PyTorch, "
                                "compare settings, find a learning rate, predict with a saved model, "
                                "check gradients, measure speed.",
                    epilog="Exit status: 0 success; 1 gradcheck failed; 2 a problem with the data, "
                           "settings, model file, command line or a host limit (one line "
                           "'error: ...' on stderr), or a run that diverged; 130 Ctrl-C. "
                           "'python -m nn_core COMMAND --help' shows each command's options.")
    commands = parser.add_subparsers(dest="command", metavar="{train,compare,lr-find,predict,gradcheck,bench}")

    train = commands.add_parser("train", help="train one or both twins on a Kaggle-layout CSV",
                                description="Train the NumPy and/or PyTorch twin from the same "
                                            "initial weights on the same mini-batches.")
    add_train_flags(train, tuple(TWINS), impl_default="both")
    train.add_argument("--save", metavar="PATH",
                       help="save the trained model as .npz or .pt; with --impl both, one file per "
                            "twin: model.npz -> model-numpy.npz and model-torch.npz")
    train.add_argument("--json", action="store_true",
                       help="print one JSON object per metric record on stdout (non-finite numbers "
                            "as null)")

    compare = commands.add_parser("compare", help="a controlled experiment: one run per value of one setting",
                                  description="Train one run per value of one setting (--vary), all "
                                              "from the same seed: the same initial weights wherever "
                                              "the layer sizes agree, the same mini-batches in the "
                                              "same order.")
    compare.add_argument("--vary", required=True, metavar="KEY=V1,V2,...",
                         help=f"the setting to vary and 2 to 6 values, e.g. optimizer=sgd,adam; KEY is "
                              f"one of {', '.join(VARIABLES)} (hidden: widths joined by '-', like "
                              f"hidden=128-64,32)")
    add_train_flags(compare, tuple(TWINS), impl_default="numpy")
    compare.add_argument("--json", action="store_true",
                         help="print one JSON object per metric record on stdout, with the run's "
                              "label in 'run' (like optimizer=adam)")

    finder = commands.add_parser("lr-find", help="suggest a learning rate (a learning-rate range test)",
                                 description="From fresh weights, raise the learning rate exponentially "
                                             f"from {START_LR:g} to {END_LR:g} over {PROBE_STEPS} steps, "
                                             "stop once the smoothed loss passes 4x its lowest value, "
                                             "and suggest a rate. " + RULE)
    add_train_flags(finder, ("numpy", "torch"), impl_default="numpy", with_epochs=False)
    finder.add_argument("--json", action="store_true",
                        help="print one JSON object per probe step (lr, loss, smoothed) on stdout, "
                             "then one with suggested_lr")

    predict = commands.add_parser("predict", help="label a test CSV with a saved model",
                                  description="Write a Kaggle submission (ImageId,Label) for a CSV "
                                              "of digits, using a model saved as .npz or .pt.")
    predict.add_argument("--model", required=True, metavar="PATH", help=".npz or .pt model file")
    predict.add_argument("--data", required=True, metavar="PATH",
                         help="CSV of digits, with or without a label column (with one, the "
                              "accuracy is printed too)")
    predict.add_argument("--out", required=True, metavar="PATH", help="submission CSV to write")

    grad = commands.add_parser("gradcheck", help="compare backprop, autograd and finite differences")
    grad.add_argument("--hidden", metavar="WIDTHS", default="16,8", help="(default: %(default)s)")
    grad.add_argument("--activation", choices=ACTIVATION_NAMES, default="relu",
                      help="(default: %(default)s)")
    grad.add_argument("--l2", type=float, default=0.0, help="(default: %(default)s)")
    grad.add_argument("--seed", type=int, default=0, help="(default: %(default)s)")

    bench = commands.add_parser("bench", help="samples/s, GFLOP/s and share of this machine's measured "
                                              "matrix-multiply peak of the NumPy and torch twins, measured "
                                              "alternately on the shipped sample (SGD, float32)")
    bench.add_argument("--batch-sizes", metavar="SIZES", default="64,256", help="(default: %(default)s)")
    bench.add_argument("--rounds", type=int, default=5, help="timed rounds per twin (default: %(default)s)")
    bench.add_argument("--steps", type=int, default=60, help="steps per round (default: %(default)s)")
    bench.add_argument("--hidden", metavar="WIDTHS", default="128,64", help="(default: %(default)s)")
    return parser


def add_train_flags(parser, impls: tuple, impl_default: str, with_epochs: bool = True) -> None:
    """The settings of a run (train, compare, lr-find share them): TrainConfig's fields and --data."""
    d = TrainConfig()
    parser.add_argument("--impl", choices=impls, default=impl_default,
                        help="which twin to train (default: %(default)s)")
    parser.add_argument("--hidden", metavar="WIDTHS", default=",".join(map(str, d.hidden)),
                        help='hidden layer widths, comma-separated; "" for none (default: %(default)s)')
    parser.add_argument("--activation", choices=ACTIVATION_NAMES, default=d.activation,
                        help="(default: %(default)s)")
    parser.add_argument("--init", choices=INIT_NAMES, default=d.init, help="(default: %(default)s)")
    parser.add_argument("--optimizer", choices=OPTIMIZER_NAMES, default=d.optimizer,
                        help="(default: %(default)s)")
    parser.add_argument("--lr", type=float, default=d.lr, help="learning rate (default: %(default)s)")
    parser.add_argument("--batch-size", type=int, default=d.batch_size,
                        help="rows per step; 0 = full batch (default: %(default)s)")
    if with_epochs:
        parser.add_argument("--epochs", type=int, default=d.epochs, help="(default: %(default)s)")
    parser.add_argument("--l2", type=float, default=d.l2, help="L2 weight decay (default: %(default)s)")
    parser.add_argument("--dropout", type=float, default=d.dropout, help="(default: %(default)s)")
    parser.add_argument("--seed", type=int, default=d.seed, help="(default: %(default)s)")
    parser.add_argument("--dtype", choices=DTYPE_NAMES, default=d.dtype, help="(default: %(default)s)")
    parser.add_argument("--val-fraction", type=float, default=d.val_fraction,
                        help="share of rows held out for validation (default: %(default)s)")
    parser.add_argument("--data", default=str(data.SHIPPED_SAMPLE), metavar="PATH",
                        help="labelled CSV (.csv or .csv.gz; default: the shipped 5,000-digit sample)")


def config_from_args(args, limits) -> TrainConfig:
    """The TrainConfig the train flags describe, checked (also against the host's caps)."""
    return TrainConfig(hidden=parse_hidden(args.hidden), activation=args.activation, init=args.init,
                       optimizer=args.optimizer, lr=args.lr, batch_size=args.batch_size,
                       epochs=getattr(args, "epochs", TrainConfig.epochs), l2=args.l2,
                       dropout=args.dropout, seed=args.seed, dtype=args.dtype,
                       val_fraction=args.val_fraction).validated(limits)


def writable_target(path, option: str) -> Path:
    """`path` if a file can be written there (missing folders are created later), else UserError."""
    path = Path(path)
    if path.is_dir():
        raise UserError(f"{option} {path} is a folder; give a file name inside it.")
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise UserError(f"{option} {path} cannot be written: {folder} is a file, not a folder.")
    if not os.access(folder, os.W_OK | os.X_OK) or path.exists() and not os.access(path, os.W_OK):
        raise UserError(f"{option} {path} cannot be written (permission denied); choose another path.")
    return path


def save_targets(save, impl_choice: str, impls) -> dict:
    """{impl: path} for --save; checked before training so a long run is not wasted."""
    if save is None:
        return {}
    from .model_io import SAVERS
    path = Path(save)
    if path.is_dir():
        raise UserError(f"--save {path} is a folder; give a file name inside it, such as "
                        f"{path / 'model.npz'}.")
    if path.suffix.lower() not in SAVERS:
        raise ModelFileError(f"--save {path}: the file name must end in .npz or .pt.")
    if path.suffix.lower() == ".pt" and not torch_available():
        raise ModelFileError(f"--save {path}: saving .pt needs PyTorch, which is not installed; "
                             "use a .npz name.")
    if impl_choice == "both":
        return {impl: writable_target(path.with_name(f"{path.stem}-{impl}{path.suffix}"), "--save")
                for impl in impls}
    return {impls[0]: writable_target(path, "--save")}


# ---- train ------------------------------------------------------------------------------------------
def finite(value):
    """NaN and inf -> None (strict JSON has no such numbers), recursively through lists."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, list):
        return [finite(v) for v in value]
    return value


class Progress:
    """Live progress on stderr. On a terminal: one rich progress bar per twin, with its loss and
    accuracy; otherwise (a log file, a pipe): one line per epoch end and at the finish."""

    def __init__(self, impls, epochs, steps_per_epoch):
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress as Bars, TextColumn, TimeElapsedColumn

        self.epochs = epochs
        self.latest, self.val_acc = {}, {}
        self.console = Console(stderr=True, highlight=False)
        self.live = self.console.is_terminal
        self.bars = self.tasks = None
        if self.live:
            self.bars = Bars(TextColumn("{task.description:>5}"), BarColumn(), MofNCompleteColumn(),
                             TextColumn("{task.fields[metrics]}"), TimeElapsedColumn(),
                             console=self.console)
            self.tasks = {impl: self.bars.add_task(impl, total=epochs * steps_per_epoch, metrics="")
                          for impl in impls}
            self.bars.start()

    def describe(self, impl) -> str:
        r = self.latest[impl]
        val = self.val_acc.get(impl)
        val = "-" if val is None else f"{val:.3f}"
        return (f"{impl} epoch {r.epoch}/{self.epochs} step {r.step} loss {r.loss:.4f} "
                f"acc {r.train_acc:.3f} val_acc {val}")

    def update(self, impl, records):
        for r in records:
            self.latest[impl] = r
            if r.val_acc is not None:
                self.val_acc[impl] = r.val_acc
            if not self.live and r.event is not None:
                print(self.describe(impl), file=sys.stderr, flush=True)
        if self.live and records:
            r, val = self.latest[impl], self.val_acc.get(impl)
            metrics = (f"epoch {r.epoch}/{self.epochs}  loss {r.loss:.4f}  acc {r.train_acc:.3f}  "
                       f"val_acc {'-' if val is None else f'{val:.3f}'}")
            self.bars.update(self.tasks[impl], completed=r.step, metrics=metrics)

    def close(self):
        if self.bars is not None:
            self.bars.stop()
            self.bars = None


def summary_table(run):
    """The run's outcome per twin, as a rich table."""
    from rich import box
    from rich.table import Table

    table = Table(box=box.SIMPLE, pad_edge=False)
    for i, heading in enumerate(("twin", "outcome", "steps", "val_acc", "val_loss", "samples/s", "wall time")):
        table.add_column(heading, justify="left" if i < 2 else "right")
    for impl in run.impls:
        recs = run.records(impl)
        last = recs[-1] if recs else None
        measured = next((r for r in reversed(recs) if r.val_acc is not None), None)
        table.add_row(
            impl,
            "failed" if impl in run.errors else (last.event or "running") if last else "-",
            str(last.step) if last else "0",
            f"{measured.val_acc:.4f}" if measured else "-",
            f"{measured.val_loss:.4f}" if measured else "-",
            f"{last.samples_per_s:,.0f}" if last else "-",
            f"{last.wall_time:.1f} s" if last else "-",
        )
    return table


def print_table(table):
    from rich.console import Console
    Console(highlight=False).print(table)


def follow(runs, emit, poll=0.1) -> bool:
    """Start the runs and hand each twin's new records to emit(run, impl, records) every `poll`
    seconds until all have ended. Ctrl-C stops them, whose last records then still come through;
    True if it did.

    Ctrl-C only sets a flag here (an exception could cut a line of output in half); a second
    Ctrl-C raises KeyboardInterrupt as usual.
    """
    seen, interrupted = {(run.id, impl): 0 for run in runs for impl in run.impls}, []

    def on_ctrl_c(signum, frame):
        interrupted.append(signum)
        signal.signal(signal.SIGINT, signal.default_int_handler)

    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, on_ctrl_c) if in_main else None
    try:
        for run in runs:
            run.start()
        while True:
            if interrupted:
                for run in runs:
                    run.stop()
            finished = all(run.finished for run in runs)  # first: once true, every record is in
            for run in runs:
                for impl in run.impls:
                    new = run.records(impl, seen[run.id, impl])
                    seen[run.id, impl] += len(new)
                    emit(run, impl, new)
            if finished:
                return bool(interrupted)
            time.sleep(poll)
    finally:
        if in_main:
            signal.signal(signal.SIGINT, previous)


def failure_lines(run) -> list[str]:
    """One message per way the twins failed (a twin that did not finish all its epochs)."""
    problems = {}
    for impl in run.impls:
        last = run.latest(impl)
        if impl in run.errors:
            message = run.errors[impl]
        elif last is None or last.event != "done":
            message = (last.message if last and last.message else "the run ended early.")
        else:
            continue
        problems.setdefault(message, []).append(impl)
    if len(problems) == 1 and len(next(iter(problems.values()))) == len(run.impls):
        return list(problems)
    return [f"{' and '.join(impls)} twin: {message}" for message, impls in problems.items()]


def twins_to_train(choice: str) -> tuple:
    """The twins --impl asks for, less PyTorch (with a warning) when it is not installed."""
    impls = TWINS[choice]
    if "torch" in impls and not torch_available():
        if choice == "torch":
            raise UserError(f"PyTorch is not installed; {INSTALL_TORCH}, or use --impl numpy.")
        warn(f"PyTorch is not installed, so only the NumPy twin trains; {INSTALL_TORCH}.")
        impls = ("numpy",)
    return impls


def load_split(path, config: TrainConfig, limits):
    """The labelled CSV at path, split as config says; then the trainer pool starts."""
    from .run import default_pool
    dataset = data.load_csv(path, labelled=True, max_rows=limits.max_rows)
    # Each trainer process imports torch only if it trains the PyTorch twin (about 4 s here), so
    # the NumPy twin starts at once.
    default_pool(limits, preload_torch=False)
    return data.make_split(dataset, config.val_fraction, config.seed, dtype=config.dtype)


def json_line(fields: dict) -> None:
    print(json.dumps({k: finite(v) for k, v in fields.items()}, allow_nan=False), flush=True)


def cmd_train(args) -> int:
    from .model_io import save_model
    from .run import Run
    limits = limits_from_env()
    config = config_from_args(args, limits)
    impls = twins_to_train(args.impl)
    targets = save_targets(args.save, args.impl, impls)
    split = load_split(args.data, config, limits)
    run = Run(config, split, impls=impls, limits=limits, name="cli")

    steps_per_epoch = math.ceil(len(split.y_train) / (config.batch_size or len(split.y_train)))
    progress = None if args.json else Progress(impls, config.epochs, steps_per_epoch)

    def emit(run, impl, records):
        if args.json:
            for r in records:
                json_line(r.to_dict())
        else:
            progress.update(impl, records)

    try:
        interrupted = follow([run], emit)
    except KeyboardInterrupt:  # a second Ctrl-C
        run.stop()
        raise
    finally:
        if progress:
            progress.close()
    if progress:
        print_table(summary_table(run))
    if interrupted:
        print("stopped (Ctrl-C); nothing was saved.", file=sys.stderr, flush=True)
        return EXIT_INTERRUPTED
    problems = failure_lines(run)
    if problems:
        for message in problems:
            print(f"error: {message}", file=sys.stderr, flush=True)
        return EXIT_USER_ERROR
    for impl, path in targets.items():
        save_model(path, run.twins[impl].params(), config.activation)
        say(f"saved the {impl} twin to {path}", json_mode=args.json)
    return 0


# ---- compare ----------------------------------------------------------------------------------------
def results_table(results):
    """One row per run (and twin) of an experiment, as a rich table."""
    from rich import box
    from rich.table import Table

    table = Table(box=box.SIMPLE, pad_edge=False)
    headings = ("run", "twin", "outcome", "step-1 loss", "final val_acc", "best epoch", "wall time",
                "samples/s", "diverged")
    for i, heading in enumerate(headings):
        table.add_column(heading, justify="left" if i < 3 else "right")
    for r in results:
        table.add_row(r.run, r.impl, r.outcome, _shown(r.first_loss, "{:.6f}"),
                      _shown(r.final_val_acc, "{:.4f}"), _shown(r.best_epoch, "{}"),
                      _shown(r.seconds, "{:.1f} s"), _shown(r.samples_per_s, "{:,.0f}"),
                      "yes" if r.diverged else "no")
    return table


def _shown(value, form: str) -> str:
    return "-" if value is None or isinstance(value, float) and not math.isfinite(value) else form.format(value)


def cmd_compare(args) -> int:
    from .experiments import make_experiment, parse_vary, results_of, verdict
    from .run import Run
    limits = limits_from_env()
    key, texts = parse_vary(args.vary)
    experiment = make_experiment(config_from_args(args, limits), key, texts, limits)
    impls = twins_to_train(args.impl)
    split = load_split(args.data, experiment.base, limits)
    runs = [Run(config, split, impls=impls, limits=limits, label=label)
            for config, label in zip(experiment.configs(), experiment.labels)]
    say(experiment.held_equal(), json_mode=args.json)

    def emit(run, impl, records):
        for r in records:
            if args.json:
                json_line({"run": run.name, **r.to_dict()})
            elif r.event is not None and r.event != "epoch_end":
                say(f"{run.name} ({impl}): {r.message}")

    try:
        interrupted = follow(runs, emit)
    except KeyboardInterrupt:  # a second Ctrl-C
        for run in runs:
            run.stop()
        raise
    results = [result for impl in impls for result in results_of(experiment.labels, runs, impl)]
    from rich.console import Console
    console = Console(highlight=False, stderr=args.json)
    if not console.is_terminal:
        console.width = 132           # a log file or a pipe: room for every column
    console.print(results_table(results))
    for impl in impls:
        prefix = f"{impl} twin: " if len(impls) > 1 else ""
        say(prefix + verdict([r for r in results if r.impl == impl]), json_mode=args.json)
    if interrupted:
        print("stopped (Ctrl-C).", file=sys.stderr, flush=True)
        return EXIT_INTERRUPTED
    failed = [f"{run.name}: {message}" for run in runs for message in set(run.errors.values())]
    for line in failed:
        print(f"error: {line}", file=sys.stderr, flush=True)
    return EXIT_USER_ERROR if failed else 0


# ---- lr-find ----------------------------------------------------------------------------------------
SUMMARY_ROWS = 12   # probes shown without --json


def cmd_lr_find(args) -> int:
    from .lr_find import find_lr
    from .run import default_pool
    limits = limits_from_env()
    config = config_from_args(args, limits)
    impl = twins_to_train(args.impl)[0]
    split = load_split(args.data, config, limits)
    # In a trainer process, like every run: its thread caps, and the torch twin's torch.
    finding = default_pool(limits, preload_torch=False).call(find_lr, config, split, impl)
    if args.json:
        for probe in finding.probes:
            json_line(probe.to_dict())
        json_line({"suggested_lr": finding.suggested_lr, "stopped_early": finding.stopped_early,
                   "message": finding.message})
        return 0
    stride = max(1, math.ceil(len(finding.probes) / SUMMARY_ROWS))
    print(f"{'step':>5}  {'lr':>9}  {'loss':>8}  {'smoothed':>8}")
    for probe in finding.probes[::stride] + ([finding.probes[-1]] if (len(finding.probes) - 1) % stride else []):
        print(f"{probe.step:>5}  {probe.lr:>9.3g}  {_shown(probe.loss, '{:.4f}'):>8}  {probe.smoothed:>8.4f}")
    print(finding.message)
    print(RULE)
    return 0


# ---- predict ----------------------------------------------------------------------------------------
def cmd_predict(args) -> int:
    from .evaluate import hits, make_submission, numpy_predictor
    from .model_io import load_model
    limits = limits_from_env()
    out = writable_target(args.out, "--out")
    model = load_model(args.model, limits=limits)
    dataset = data.load_csv(args.data, labelled=None, max_rows=limits.max_rows)
    submission = make_submission(numpy_predictor(model), dataset)
    if dataset.labels is not None:
        correct = hits(dataset.labels, submission["Label"].to_numpy())
        print(f"accuracy on the labels in {dataset.name}: {correct / len(dataset):.4f} "
              f"({correct:,} of {len(dataset):,})")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        submission.to_csv(out, index=False)
    except OSError as e:
        raise UserError(f"cannot write {out}: {e.strerror or e}; choose another path.") from None
    print(f"wrote {len(submission):,} rows to {out}")
    return 0


# ---- gradcheck --------------------------------------------------------------------------------------
def cmd_gradcheck(args) -> int:
    config = TrainConfig(hidden=parse_hidden(args.hidden), activation=args.activation, l2=args.l2,
                         seed=args.seed).validated(limits_from_env())
    from .gradcheck import AUTOGRAD_TOL, FINITE_DIFF_TOL, gradient_check
    report = gradient_check(hidden=config.hidden, activation=config.activation, l2=config.l2,
                            seed=config.seed)
    print(f"{'layer':>5}  param  {'shape':<12}  {'vs autograd':>11}  {'vs finite diff':>14}")
    for row in report.rows:
        print(f"{row['layer']:>5}  {row['param']:<5}  {str(tuple(row['shape'])):<12}  "
              f"{row['autograd_rel_err']:>11.2e}  {row['finite_diff_rel_err']:>14.2e}")
    if getattr(report, "autograd_checked", True):
        print(f"max relative error vs autograd: {report.max_autograd:.2e} (tolerance {AUTOGRAD_TOL:g})")
    else:
        print("autograd: not checked (PyTorch is not installed)")
    print(f"max relative error vs finite differences: {report.max_finite_diff:.2e} "
          f"(tolerance {FINITE_DIFF_TOL:g})")
    print("PASS" if report.passed else "FAIL")
    return 0 if report.passed else 1


# ---- bench ------------------------------------------------------------------------------------------
def parse_sizes(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(part) for part in text.split(","))
    except ValueError:
        sizes = ()
    if not sizes or min(sizes) < 1:
        raise ConfigError(f"batch sizes {text!r} must be positive whole numbers separated by commas, "
                          "like 64,256.")
    return sizes


def cmd_bench(args) -> int:
    from .bench import format_report, matmul_peak, measure_throughput
    sizes = parse_sizes(args.batch_sizes)
    hidden = parse_hidden(args.hidden)
    TrainConfig(hidden=hidden).validated(limits_from_env())
    if args.rounds < 1 or args.steps < 1:
        raise ConfigError("--rounds and --steps must be at least 1.")
    impls = ("numpy", "torch")
    if not torch_available():
        warn(f"PyTorch is not installed, so only the NumPy twin is measured; {INSTALL_TORCH}.")
        impls = ("numpy",)
    sample = data.load_shipped_sample()
    rows = measure_throughput(batch_sizes=sizes, hidden=hidden, rounds=args.rounds, steps=args.steps,
                              impls=impls, x=data.scale_pixels(sample.images), y=sample.labels)
    print(format_report(rows, peak=matmul_peak()))
    return 0


COMMANDS = {"train": cmd_train, "compare": cmd_compare, "lr-find": cmd_lr_find, "predict": cmd_predict, "gradcheck": cmd_gradcheck, "bench": cmd_bench}


def main(argv=None) -> int:
    try:
        args = build_parser().parse_args(argv)
        if args.command is None:
            raise UsageError("choose a command: train, compare, lr-find, predict, gradcheck or bench "
                             "(python -m nn_core --help lists them).")
        return COMMANDS[args.command](args)
    except UserError as e:
        print("error: " + " ".join(str(e).split()), file=sys.stderr, flush=True)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("interrupted.", file=sys.stderr, flush=True)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # whoever read stdout stopped (`... | head`): end quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1

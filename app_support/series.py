"""A run's records as the numbers the pages show: per-twin series (plain lists, filled in
incrementally), the twin gap, progress, the run history's tables, the CSV download. No streamlit,
no figures (app_support.figures draws these).

The Train page keeps one `TwinSeries` per twin of each run in st.session_state and calls `update`
on every redraw, so only the records that arrived since the last redraw are converted.
"""

import math
import weakref
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from nn_core.images import never_inked_pixels
from nn_core.twins import TWIN_NAMES

MAX_POINTS = 1000          # per trace; longer curves are thinned to this many points


@dataclass
class TwinSeries:
    """One twin's records as the plain lists the charts read, filled in incrementally."""

    impl: str
    n_records: int = 0                 # records of the run already copied into these lists
    step: list = field(default_factory=list)
    epoch: list = field(default_factory=list)
    samples_seen: list = field(default_factory=list)
    loss: list = field(default_factory=list)
    train_acc: list = field(default_factory=list)
    samples_per_s: list = field(default_factory=list)
    val_step: list = field(default_factory=list)       # validation is measured on some steps only
    val_samples: list = field(default_factory=list)
    val_loss: list = field(default_factory=list)
    val_acc: list = field(default_factory=list)
    grad_step: list = field(default_factory=list)      # diagnostics, also on some steps only
    grad_norm_scaled: list = field(default_factory=list)   # one list (per layer) per grad_step
    last_event: str | None = None

    def update(self, run) -> int:
        """Copy the run's records that arrived since the last call; return how many."""
        new = run.records(self.impl, self.n_records)
        for r in new:
            if r.event:
                self.last_event = r.event
            if self.step and r.step == self.step[-1]:
                continue        # a stopped run repeats its last step's record to carry the event
            self.step.append(r.step)
            self.epoch.append(r.epoch)
            self.samples_seen.append(r.samples_seen)
            self.loss.append(r.loss)
            self.train_acc.append(r.train_acc)
            self.samples_per_s.append(r.samples_per_s)
            if r.val_acc is not None:
                self.val_step.append(r.step)
                self.val_samples.append(r.samples_seen)
                self.val_loss.append(r.val_loss)
                self.val_acc.append(r.val_acc)
            if r.grad_norm_scaled is not None:
                self.grad_step.append(r.step)
                self.grad_norm_scaled.append(r.grad_norm_scaled)
        self.n_records += len(new)
        return len(new)

    @property
    def final_val_acc(self) -> float | None:
        return self.val_acc[-1] if self.val_acc else None


def series_for(run, cache: dict) -> dict:
    """impl -> TwinSeries of `run`, brought up to date. `cache` is a dict kept in session state."""
    by_impl = cache.setdefault(run.id, {impl: TwinSeries(impl) for impl in run.impls})
    for series in by_impl.values():
        series.update(run)
    return by_impl


def thinned(n: int, max_points: int = MAX_POINTS) -> slice | np.ndarray:
    """Indices that keep at most max_points of n, evenly strided, always keeping the last one."""
    if n <= max_points:
        return slice(None)
    stride = math.ceil(n / max_points)
    keep = np.arange(0, n, stride)
    return keep if keep[-1] == n - 1 else np.append(keep, n - 1)


def extremes(y: np.ndarray, max_points: int = MAX_POINTS) -> slice | np.ndarray:
    """Indices of at most max_points of y that keep its shape: y is cut into about max_points / 2
    buckets of consecutive points, and each bucket keeps its lowest and its highest point (a NaN
    counts as the highest: a diverged step stays where it happened); the first and last points
    are always kept. So a one-step spike survives however long the run, where an even stride would
    skip it; and a curve of 6,300 or 60,000 steps costs the same ~1,000 points to send and draw."""
    n = len(y)
    if n <= max_points:
        return slice(None)
    buckets = (max_points - 4) // 2      # equal buckets, and one more for the few left over
    size = n // buckets
    whole = buckets * size
    key = np.where(np.isnan(np.asarray(y, dtype=np.float64)), np.inf, y)
    rows = key[:whole].reshape(buckets, size)                # (buckets, size)
    start = size * np.arange(buckets)
    keep = [[0, n - 1], start + rows.argmin(axis=1), start + rows.argmax(axis=1)]
    if whole < n:
        keep.append([whole + key[whole:].argmin(), whole + key[whole:].argmax()])
    return np.unique(np.concatenate(keep))


@dataclass
class TwinGap:
    step: np.ndarray       # steps both twins have taken
    gap: np.ndarray        # |loss NumPy - loss PyTorch| at each of those steps
    identical: int         # steps where the two losses are exactly equal


def twin_gap(series: dict) -> TwinGap | None:
    """Per step, how far apart the two twins' batch losses are; None unless both twins trained."""
    if "numpy" not in series or "torch" not in series:
        return None
    a, b = series["numpy"], series["torch"]
    n = min(len(a.loss), len(b.loss))
    gap = np.abs(np.asarray(a.loss[:n], dtype=np.float64) - np.asarray(b.loss[:n], dtype=np.float64))
    return TwinGap(np.asarray(a.step[:n]), gap, int(np.count_nonzero(gap == 0)))

# ---- run progress -----------------------------------------------------------------------------
def steps_per_epoch(run) -> int:
    n_train = len(run.split.y_train)
    return math.ceil(n_train / (run.config.batch_size or n_train))


def progress(run, series: TwinSeries) -> tuple[float, str]:
    """(fraction of the run done, 'NumPy · epoch 2/10 · step 130/630') for one twin."""
    total = steps_per_epoch(run) * run.config.epochs
    done = series.step[-1] if series.step else 0
    epoch = series.epoch[-1] if series.epoch else 0
    text = f"{TWIN_NAMES[series.impl]} · epoch {epoch}/{run.config.epochs} · step {done:,}/{total:,}"
    return min(done / total, 1.0), text


def config_summary(config) -> str:
    """One line a learner can read: what this run trained."""
    hidden = ",".join(map(str, config.hidden)) or "none"
    batch = "full batch" if config.batch_size == 0 else f"batch {config.batch_size}"
    extras = [f"L2 {config.l2:g}"] * bool(config.l2) + [f"dropout {config.dropout:g}"] * bool(config.dropout)
    return " · ".join([f"hidden {hidden}", config.activation, f"init {config.init}", config.optimizer,
                       f"lr {config.lr:g}", batch, f"{config.epochs} epochs", *extras,
                       f"seed {config.seed}", config.dtype])


_never_inked = {}   # id(x) -> (weak reference to x, count): counted once per (read-only) split


def never_inked(x: np.ndarray) -> int:
    """How many pixels no row of x inks (see nn_core.images.never_inked_pixels), cached per array."""
    ref, count = _never_inked.get(id(x), (None, None))
    if ref is None or ref() is not x:
        count = int(never_inked_pixels(x).sum())
        if len(_never_inked) > 16:
            _never_inked.clear()
        _never_inked[id(x)] = (weakref.ref(x), count)
    return count


# ---- run history and downloads ------------------------------------------------------------------
def history_table(runs: list, cache: dict) -> pd.DataFrame:
    """One row per run: what it trained and how it ended."""
    rows = []
    for run in runs:
        series = series_for(run, cache)
        row = {"run": run.label, "status": run.status,
               "settings": config_summary(run.config)}
        for impl in ("numpy", "torch"):
            acc = series[impl].final_val_acc if impl in series else None
            row[f"{TWIN_NAMES[impl]} val acc"] = acc
        rows.append(row)
    return pd.DataFrame(rows)


def history_frame(runs: list, cache: dict) -> pd.DataFrame:
    """Long table of the chosen runs' curves, x in epochs so runs with other batch sizes line up."""
    parts = []
    for run in runs:
        n_train = len(run.split.y_train)
        for impl, s in series_for(run, cache).items():
            keep = thinned(len(s.step))
            parts.append(pd.DataFrame({
                "epoch": np.asarray(s.samples_seen, dtype=np.float64)[keep] / n_train,
                "value": np.asarray(s.loss, dtype=np.float64)[keep], "curve": "batch loss",
                "run": run.label, "twin": TWIN_NAMES[impl]}))
            keep = thinned(len(s.val_step))
            parts.append(pd.DataFrame({
                "epoch": np.asarray(s.val_samples, dtype=np.float64)[keep] / n_train,
                "value": np.asarray(s.val_acc, dtype=np.float64)[keep], "curve": "validation accuracy",
                "run": run.label, "twin": TWIN_NAMES[impl]}))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        columns=["epoch", "value", "curve", "run", "twin"])


# Record fields holding one number per layer (the health shares: per hidden layer), and those
# holding one histogram per layer, which a spreadsheet cannot show.
PER_LAYER = ("grad_norm", "grad_norm_scaled", "weight_norm", "update_ratio", "dead_fraction",
             "saturated_fraction")
HISTOGRAMS = ("weight_hist", "grad_hist", "activation_hist")


def records_frame(run) -> pd.DataFrame:
    """Every record of both twins; per-layer lists become columns like grad_norm_layer1, and the
    histograms are left out (see records_csv)."""
    rows = [r.to_dict() for impl in run.impls for r in run.records(impl)]
    frame = pd.DataFrame(rows).drop(columns=list(HISTOGRAMS), errors="ignore")
    for column in PER_LAYER:
        if column not in frame or frame[column].isna().all():
            continue
        lists = frame.pop(column)
        n_layers = max(len(v) for v in lists if isinstance(v, list))
        for layer in range(n_layers):
            frame[f"{column}_layer{layer + 1}"] = [v[layer] if isinstance(v, list) else None for v in lists]
    return frame


def records_csv(run) -> bytes:
    """The metrics CSV: one row per record, one column per number, ready for a spreadsheet. The
    weight, gradient and activation histograms are not in it: they are in the run store and in
    the JSON lines of `python -m nn_core train --json`."""
    return records_frame(run).to_csv(index=False).encode("utf-8")

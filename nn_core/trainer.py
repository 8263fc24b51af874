"""One training loop for both twins. Each yields the same metric records, step by step.

The twins themselves live in numpy_twin.py and torch_twin.py; twins.make_twin builds one. A twin is
a small adapter around a network and its optimiser with five methods:
    batches(x, y, order, batch_size) -> iterator of (xb, yb) in the given row order
    train_step(xb, yb, diagnose)    -> (loss, n_correct, diagnostics dict or None)
    evaluate(x, y)                  -> (loss, accuracy)
    predict_proba(x)                -> (n, 10) probabilities as a NumPy array
    params()                        -> [(W, b), ...] NumPy copies, W of shape (fan_in, fan_out)
"""

import math
import time
from dataclasses import dataclass, replace

import numpy as np

from .config import TrainConfig

# Cross-entropy starts near ln(10) = 2.3 (a guess among 10 digits). A loss past this many nats only
# happens when the updates overshoot and the weights blow up; left alone, such a run often "recovers"
# to chance level with dead units and looks finished, so it counts as diverged.
EXPLODED_LOSS = 1000.0


@dataclass
class Record:
    impl: str
    step: int
    epoch: int
    samples_seen: int
    loss: float
    train_acc: float
    samples_per_s: float
    step_time: float
    wall_time: float
    val_loss: float | None = None
    val_acc: float | None = None
    grad_norm: list | None = None          # per layer, sqrt(||dW||^2 + ||db||^2)
    grad_norm_scaled: list | None = None   # the same / sqrt(parameters in the layer)
    weight_norm: list | None = None        # per layer, ||W||
    update_ratio: list | None = None       # per layer, ||W_after - W_before|| / ||W_before||
    # Network health (nn_core.diagnostics), also on diagnostic steps only. Per hidden layer: the
    # share of dead units (ReLU family, else None) and of saturated ones (sigmoid / tanh, else None).
    dead_fraction: list | None = None
    saturated_fraction: list | None = None
    # Histograms {"lo", "hi", "counts"} (HISTOGRAM_BINS equal bins from lo to hi): of W and of dW
    # per layer, of the activations f(Z) per hidden layer; on every HISTOGRAM_EVERY-th diagnostic step.
    weight_hist: list | None = None
    grad_hist: list | None = None
    activation_hist: list | None = None
    event: str | None = None               # "epoch_end", "done", "stopped", "diverged", "limit"
    message: str | None = None

    def to_dict(self) -> dict:
        """The fields by name, in order. The lists are shared, not copied: dataclasses.asdict copies
        them all (~350 us for a record with histograms, against ~1 us), and the run store and the
        CLI's --json turn every record into a dict."""
        return dict(vars(self))


def epoch_order(seed: int, epoch: int, n_rows: int) -> np.ndarray:
    """The shuffled row order of one epoch; both twins use it, so they see the same mini-batches."""
    return np.random.default_rng([seed, epoch]).permutation(n_rows)


def train(twin, split, config: TrainConfig, *, max_seconds=math.inf, wait_turn=None):
    """Train twin on split for config.epochs; yield one Record per step.

    wait_turn() is called before every step; it may block (pause) and returns False to stop.
    The last record carries event 'done', 'stopped', 'diverged' or 'limit' and a message; 'done'
    also marks the end of the last epoch (other epochs end with event 'epoch_end').
    """
    x, y = split.x_train, split.y_train
    n = len(x)
    batch_size = config.batch_size or n
    start = time.perf_counter()
    step = samples = 0
    busy = 0.0  # seconds spent in this twin's own steps (batch fetch + forward + backward + update)
    last = None

    def finish(record, event, message):
        # A copy: `record` may be `last`, already yielded (and shown); it must not change after that.
        record = record or Record(twin.impl, 0, 0, 0, float("nan"), 0.0, 0.0, 0.0, 0.0)
        return replace(record, event=event, message=message)

    for epoch in range(1, config.epochs + 1):
        seen = correct = 0
        batches = twin.batches(x, y, epoch_order(config.seed, epoch, n), batch_size)
        n_batches = math.ceil(n / batch_size)
        for index in range(n_batches):
            if wait_turn is not None and not wait_turn():
                yield finish(last, "stopped", f"stopped by the user after step {step}.")
                return
            t0 = time.perf_counter()
            xb, yb = next(batches)
            loss, n_correct, diag = twin.train_step(xb, yb, diagnose=step % config.diag_every == 0)
            t1 = time.perf_counter()
            busy += t1 - t0
            step += 1
            samples += len(yb)
            seen += len(yb)
            correct += n_correct
            record = Record(twin.impl, step, epoch, samples, loss, correct / seen,
                            samples_per_s=samples / busy if busy > 0 else 0.0,
                            step_time=t1 - t0, wall_time=t1 - start, **(diag or {}))
            if not math.isfinite(loss) or loss > EXPLODED_LOSS:
                shown = "NaN/inf" if not math.isfinite(loss) else f"{loss:.3g} (it exploded)"
                yield finish(record, "diverged", f"the loss became {shown} at step {step}; "
                                                 f"lower the learning rate (it is {config.lr:g}).")
                return
            epoch_end = index == n_batches - 1
            if epoch_end or step % config.eval_every == 0 or step == 1:
                record.val_loss, record.val_acc = twin.evaluate(split.x_val, split.y_val)
            if epoch_end and epoch == config.epochs:
                yield finish(record, "done", f"finished {config.epochs} epochs ({step} steps).")
                return
            if epoch_end:
                record.event = "epoch_end"
            last = record
            if record.wall_time > max_seconds:
                yield finish(record, "limit", f"the run hit this server's wall-time cap of "
                                              f"{max_seconds:g} s (NN_MAX_SECONDS) at step {step}.")
                return
            yield record

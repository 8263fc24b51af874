"""One training loop for both twins. Each yields the same metric records, step by step.

A twin is a small adapter around a network and its optimiser with five methods:
    batches(x, y, order, batch_size) -> iterator of (xb, yb) in the given row order
    train_step(xb, yb, diagnose)    -> (loss, n_correct, diagnostics dict or None)
    evaluate(x, y)                  -> (loss, accuracy)
    predict_proba(x)                -> (n, 10) probabilities as a NumPy array
    params()                        -> [(W, b), ...] NumPy copies, W of shape (fan_in, fan_out)
"""

import math
import time
from dataclasses import asdict, dataclass, replace

import numpy as np

from .config import TrainConfig
from .dropout import dropout_masks
from .functional import cross_entropy, cross_entropy_and_grad
from .init import init_params
from .numpy_mlp import NumpyMLP
from .optim import OPTIMIZERS

IMPLS = ("numpy", "torch")

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
    event: str | None = None               # "epoch_end", "done", "stopped", "diverged", "limit", "error"
    message: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def epoch_order(seed: int, epoch: int, n_rows: int) -> np.ndarray:
    """The shuffled row order of one epoch; both twins use it, so they see the same mini-batches."""
    return np.random.default_rng([seed, epoch]).permutation(n_rows)


def layer_diagnostics(grads_w, grads_b, weights, updates):
    """Per-layer norms from NumPy arrays (see Record): gradients dW, db, weights W after the step,
    and the step's updates U = W_before - W_after as the optimizer reported them. No copy of the
    weights from before the step is needed: ||W_before||^2 = ||W + U||^2 = ||W||^2 + 2 W.U + ||U||^2."""
    def dot(a, b):
        return float(np.dot(a.ravel(), b.ravel()))
    layers = []
    for gw, gb, W, U in zip(grads_w, grads_b, weights, updates):
        ww, wu, uu = dot(W, W), dot(W, U), dot(U, U)        # W and U first: the step just touched them
        before = math.sqrt(max(ww + 2 * wu + uu, 0.0))
        grad = math.sqrt(dot(gw, gw) + dot(gb, gb))
        layers.append((grad, grad / math.sqrt(gw.size + gb.size), math.sqrt(ww),
                       math.sqrt(uu) / max(before, 1e-12)))
    grad, scaled, weight, update = (list(column) for column in zip(*layers))
    return {"grad_norm": grad, "grad_norm_scaled": scaled, "weight_norm": weight, "update_ratio": update}


def step_masks(config: TrainConfig, step: int, batch: int):
    """Training step `step`'s dropout masks (NumPy arrays), the same for both twins; None without dropout."""
    return dropout_masks(config.dropout, config.seed, step, batch, config.hidden, config.dtype)


class NumpyTwin:
    impl = "numpy"

    def __init__(self, config: TrainConfig, params):
        self.config = config
        self.model = NumpyMLP(params, config.activation)
        self.optimizer = OPTIMIZERS[config.optimizer](config.lr)
        self.steps = 0   # training steps taken: picks each step's shared dropout masks
        # Reused every step / epoch: fresh big arrays cost more than filling these (profile_numpy_step.py).
        self.grads = [np.empty_like(p) for p in self.model.parameters]
        self.ordered = None

    def batches(self, x, y, order, batch_size):
        """The rows copied once into this epoch's order (one contiguous array), then cut into
        slices: each batch is a view of that copy (until the next epoch's copy overwrites it), so
        nothing is gathered or copied per step."""
        x_ordered, y_ordered = self._ordered_copy(x, y, order)
        for start in range(0, len(order), batch_size):
            yield x_ordered[start:start + batch_size], y_ordered[start:start + batch_size]

    def _ordered_copy(self, x, y, order):
        """x[order], y[order], written into the arrays of the last epoch's copy when they fit."""
        if self.ordered is None or self.ordered[0].shape != (len(order), *x.shape[1:]) \
                or self.ordered[0].dtype != x.dtype:
            self.ordered = np.empty((len(order), *x.shape[1:]), x.dtype), np.empty(len(order), y.dtype)
        x_ordered, y_ordered = self.ordered
        np.take(x, order, axis=0, out=x_ordered, mode="clip")   # "clip": no hidden temporary copy
        np.take(y, order, out=y_ordered, mode="clip")           # (order only holds valid rows)
        return x_ordered, y_ordered

    def train_step(self, xb, yb, diagnose=False):
        model = self.model
        self.steps += 1
        masks = step_masks(self.config, self.steps, len(yb))
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            logits, cache = model.forward(xb, masks)                       # (B, 10)
            loss, dZ = cross_entropy_and_grad(logits, yb)                  # dZ = d loss / d logits
            grads = model.backprop(dZ, cache, self.config.l2, out=self.grads)
            updates = self.optimizer.step(model.parameters, grads)         # what each parameter moved
        n_correct = int(np.count_nonzero(logits.argmax(axis=1) == yb))
        if not diagnose:
            return loss, n_correct, None
        return loss, n_correct, layer_diagnostics(grads[0::2], grads[1::2], model.weights, updates[0::2])

    def evaluate(self, x, y):
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            logits = np.concatenate([self.model.forward(x[i:i + 4096])[0] for i in range(0, len(x), 4096)])
            return cross_entropy(logits, y), float((logits.argmax(axis=1) == y).mean())

    def predict_proba(self, x):
        return self.model.predict_proba(x)

    def params(self):
        return self.model.params()


def make_twin(impl: str, config: TrainConfig, params, device=None):
    """The twin for impl ('numpy' or 'torch'); torch is imported only here, only when asked for."""
    if impl == "numpy":
        return NumpyTwin(config, params)
    from .torch_twin import TorchTwin
    return TorchTwin(config, params, device=device)


def initial_params(config: TrainConfig):
    """Drawn once from the seed; both twins start from these exact numbers."""
    return init_params(config.layer_sizes, config.init, config.seed, config.dtype)


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

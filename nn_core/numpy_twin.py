"""The NumPy twin's training adapter: NumpyMLP (written from scratch) and the optimisers of optim.py,
fed the same mini-batches in the same order as the PyTorch twin. See trainer.py for the interface."""

import numpy as np

from .config import TrainConfig
from .diagnostics import histogram_step, layer_diagnostics
from .dropout import step_masks
from .functional import cross_entropy, cross_entropy_and_grad
from .numpy_mlp import EVAL_CHUNK, NumpyMLP
from .optim import OPTIMIZERS


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
        hidden = [layer.activation for layer in cache[:-1]]             # f(Z) (B, units), before dropout
        return loss, n_correct, layer_diagnostics(
            grads[0::2], grads[1::2], model.weights, updates[0::2], hidden, self.config.activation,
            with_histograms=histogram_step(self.steps, self.config.diag_every))

    def set_lr(self, lr):
        """The learning rate of the next steps (the learning-rate finder raises it step by step)."""
        self.optimizer.lr = lr

    def evaluate(self, x, y):
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            logits = np.concatenate([self.model.forward(x[i:i + EVAL_CHUNK])[0]
                                     for i in range(0, len(x), EVAL_CHUNK)])
            return cross_entropy(logits, y), float((logits.argmax(axis=1) == y).mean())

    def predict_proba(self, x):
        return self.model.predict_proba(x)

    def params(self):
        return self.model.params()

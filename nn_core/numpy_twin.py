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
        self.batch = None      # (x, y) arrays that each batch is gathered into (see batches)

    def batches(self, x, y, order, batch_size):
        """The rows of each batch, in this epoch's order, gathered into the same two arrays every
        step (a step is done with its batch before the next is fetched): a twin holds one batch,
        however large the dataset, and many twins can train side by side in one process."""
        if self.batch is None or self.batch[0].shape != (batch_size, *x.shape[1:]) \
                or self.batch[0].dtype != x.dtype or self.batch[1].dtype != y.dtype:
            self.batch = np.empty((batch_size, *x.shape[1:]), x.dtype), np.empty(batch_size, y.dtype)
        x_batch, y_batch = self.batch
        for start in range(0, len(order), batch_size):
            rows = order[start:start + batch_size]
            xb, yb = x_batch[:len(rows)], y_batch[:len(rows)]
            np.take(x, rows, axis=0, out=xb, mode="clip")   # "clip": no hidden temporary copy
            np.take(y, rows, out=yb, mode="clip")           # (order only holds valid rows)
            yield xb, yb

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

"""Optimisers for a list of NumPy arrays, with exactly torch.optim's update formulas and defaults.

Each has one method, step(params, grads), which updates the arrays in place and returns the updates
it subtracted, one array per parameter (p_before - p_after): how far each parameter moved, without
keeping a copy of it (valid until the next step, which may reuse them). State (momentum buffers,
running averages) lives in the optimiser, one array per parameter, created on the first step.
"""

import numpy as np


def apply_updates(params, updates):
    """p <- p - update, in place, for each parameter; returns the updates."""
    for p, update in zip(params, updates):
        p -= update
    return updates


class SGD:
    """p <- p - lr * g"""

    def __init__(self, lr):
        self.lr = lr
        self.updates = None   # lr * g, written into the same arrays every step (profile_numpy_step.py)

    def step(self, params, grads):
        if self.updates is None:
            self.updates = [np.empty_like(p) for p in params]
        return apply_updates(params, [np.multiply(self.lr, g, out=u) for g, u in zip(grads, self.updates)])


class Momentum:
    """buf <- mu * buf + g (buf = g on the first step);  p <- p - lr * buf.
    Nesterov looks one step ahead: p <- p - lr * (g + mu * buf)."""

    def __init__(self, lr, momentum=0.9, nesterov=False):
        self.lr, self.momentum, self.nesterov = lr, momentum, nesterov
        self.buffers = None
        self.updates = None   # lr * buf, written into the same arrays every step (profile_numpy_step.py)

    def step(self, params, grads):
        if self.buffers is None:
            self.buffers = [g.copy() for g in grads]
            self.updates = [np.empty_like(p) for p in params]
        else:
            for buf, g in zip(self.buffers, grads):
                buf *= self.momentum
                buf += g
        directions = ([g + self.momentum * buf for g, buf in zip(grads, self.buffers)] if self.nesterov
                      else self.buffers)
        return apply_updates(params, [np.multiply(self.lr, d, out=u) for d, u in zip(directions, self.updates)])


class RMSprop:
    """v <- alpha * v + (1 - alpha) * g^2;  p <- p - lr * g / (sqrt(v) + eps)."""

    def __init__(self, lr, alpha=0.99, eps=1e-8):
        self.lr, self.alpha, self.eps = lr, alpha, eps
        self.square_avg = None

    def step(self, params, grads):
        if self.square_avg is None:
            self.square_avg = [np.zeros_like(p) for p in params]
        for g, v in zip(grads, self.square_avg):
            v *= self.alpha
            v += (1 - self.alpha) * g * g
        return apply_updates(params, [self.lr * g / (np.sqrt(v) + self.eps)
                                      for g, v in zip(grads, self.square_avg)])


class Adam:
    """m <- b1 m + (1-b1) g;  v <- b2 v + (1-b2) g^2;  bias-corrected:
    p <- p - lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)."""

    def __init__(self, lr, betas=(0.9, 0.999), eps=1e-8):
        self.lr, self.betas, self.eps = lr, betas, eps
        self.t = 0
        self.m = self.v = None

    def step(self, params, grads):
        b1, b2 = self.betas
        if self.m is None:
            self.m = [np.zeros_like(p) for p in params]
            self.v = [np.zeros_like(p) for p in params]
        self.t += 1
        step_size = self.lr / (1 - b1 ** self.t)
        sqrt_bias2 = np.sqrt(1 - b2 ** self.t)
        for g, m, v in zip(grads, self.m, self.v):
            m *= b1
            m += (1 - b1) * g
            v *= b2
            v += (1 - b2) * g * g
        return apply_updates(params, [step_size * m / (np.sqrt(v) / sqrt_bias2 + self.eps)
                                      for m, v in zip(self.m, self.v)])


# name -> factory taking the learning rate. MOMENTUM matches the torch side (torch_mlp.TORCH_OPTIMIZERS).
MOMENTUM = 0.9
OPTIMIZERS = {
    "sgd": lambda lr: SGD(lr),
    "momentum": lambda lr: Momentum(lr, MOMENTUM),
    "nesterov": lambda lr: Momentum(lr, MOMENTUM, nesterov=True),
    "rmsprop": lambda lr: RMSprop(lr),
    "adam": lambda lr: Adam(lr),
}

# name -> the update of one parameter w with gradient g, as LaTeX (eta = learning rate, t = step);
# the same formulas as the classes above and torch.optim.
UPDATE_LATEX = {
    "sgd": r"w \leftarrow w - \eta\, g",
    "momentum": r"v \leftarrow 0.9\, v + g, \quad w \leftarrow w - \eta\, v",
    "nesterov": r"v \leftarrow 0.9\, v + g, \quad w \leftarrow w - \eta\, (g + 0.9\, v)",
    "rmsprop": r"s \leftarrow 0.99\, s + 0.01\, g^2, \quad w \leftarrow w - \eta\, \frac{g}{\sqrt{s} + 10^{-8}}",
    "adam": (r"m \leftarrow 0.9\, m + 0.1\, g, \quad s \leftarrow 0.999\, s + 0.001\, g^2, \quad "
             r"w \leftarrow w - \eta\, \frac{m / (1 - 0.9^t)}{\sqrt{s / (1 - 0.999^t)} + 10^{-8}}"),
}

# name -> (low, high): learning rates that train the default network well. Adam and RMSprop divide
# by the gradient's own size, so their steps are ~lr whatever the gradient: lr 0.1 wrecks them.
LR_RANGE = {"sgd": (0.05, 0.5), "momentum": (0.01, 0.1), "nesterov": (0.01, 0.1),
            "rmsprop": (1e-4, 1e-2), "adam": (1e-4, 1e-2)}

"""Optimisers for a list of NumPy arrays, with exactly torch.optim's update formulas and defaults.

Each has one method, step(params, grads), which updates the arrays in place. State (momentum buffers,
running averages) lives in the optimiser, one array per parameter, created on the first step.
"""

import numpy as np


class SGD:
    """p <- p - lr * g"""

    def __init__(self, lr):
        self.lr = lr

    def step(self, params, grads):
        for p, g in zip(params, grads):
            p -= self.lr * g


class Momentum:
    """buf <- mu * buf + g (buf = g on the first step);  p <- p - lr * buf.
    Nesterov looks one step ahead: p <- p - lr * (g + mu * buf)."""

    def __init__(self, lr, momentum=0.9, nesterov=False):
        self.lr, self.momentum, self.nesterov = lr, momentum, nesterov
        self.buffers = None

    def step(self, params, grads):
        if self.buffers is None:
            self.buffers = [g.copy() for g in grads]
        else:
            for buf, g in zip(self.buffers, grads):
                buf *= self.momentum
                buf += g
        for p, g, buf in zip(params, grads, self.buffers):
            p -= self.lr * (g + self.momentum * buf if self.nesterov else buf)


class RMSprop:
    """v <- alpha * v + (1 - alpha) * g^2;  p <- p - lr * g / (sqrt(v) + eps)."""

    def __init__(self, lr, alpha=0.99, eps=1e-8):
        self.lr, self.alpha, self.eps = lr, alpha, eps
        self.square_avg = None

    def step(self, params, grads):
        if self.square_avg is None:
            self.square_avg = [np.zeros_like(p) for p in params]
        for p, g, v in zip(params, grads, self.square_avg):
            v *= self.alpha
            v += (1 - self.alpha) * g * g
            p -= self.lr * g / (np.sqrt(v) + self.eps)


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
        for p, g, m, v in zip(params, grads, self.m, self.v):
            m *= b1
            m += (1 - b1) * g
            v *= b2
            v += (1 - b2) * g * g
            p -= step_size * m / (np.sqrt(v) / sqrt_bias2 + self.eps)


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

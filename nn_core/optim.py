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

"""Activations, their derivatives, softmax and cross-entropy, as tables keyed by name.

Shapes: Z and A are (batch, units); logits and probabilities are (batch, 10); labels are (batch,).
"""

import numpy as np

LEAKY_SLOPE = 0.01  # same as torch.nn.LeakyReLU's default


def relu(z):
    return np.maximum(z, 0)


def leaky_relu(z):
    return np.where(z > 0, z, LEAKY_SLOPE * z)


def sigmoid(z):
    # Written with exp(-|z|) so it never overflows for large negative z.
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e)).astype(z.dtype, copy=False)


def tanh(z):
    return np.tanh(z)


ACTIVATIONS = {"relu": relu, "leaky_relu": leaky_relu, "sigmoid": sigmoid, "tanh": tanh}

# dA/dZ for each activation, written in terms of Z (pre-activation) and A (= activation(Z)),
# whichever is cheaper: sigmoid' = a(1-a), tanh' = 1-a^2.
DERIVATIVES = {
    "relu": lambda z, a: (z > 0).astype(z.dtype),
    "leaky_relu": lambda z, a: np.where(z > 0, 1, LEAKY_SLOPE).astype(z.dtype),
    "sigmoid": lambda z, a: a * (1 - a),
    "tanh": lambda z, a: 1 - a * a,
}


def log_softmax(logits):
    """log p_k = z_k - log(sum_j exp z_j), computed after subtracting the row max (no overflow)."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def softmax(logits):
    """(batch, 10) logits -> (batch, 10) probabilities, each row summing to 1."""
    return np.exp(log_softmax(logits))


def cross_entropy(logits, labels):
    """Mean over the batch of -log p[label]: the same number torch.nn.CrossEntropyLoss gives."""
    log_p = log_softmax(logits)
    return float(-log_p[np.arange(len(labels)), labels].sum() / len(labels))


def cross_entropy_and_grad(logits, labels):
    """A training step's loss and its gradient from one log-softmax: (cross_entropy(logits, labels),
    cross_entropy_grad(softmax(logits), labels)), the second of shape (batch, 10)."""
    log_p = log_softmax(logits)
    rows = np.arange(len(labels))
    loss = float(-log_p[rows, labels].sum() / len(labels))
    grad = np.exp(log_p)                       # softmax
    grad[rows, labels] -= 1
    grad /= len(labels)
    return loss, grad


def cross_entropy_grad(probs, labels):
    """d(mean cross-entropy)/d(logits) = (softmax - one_hot) / batch. Shape (batch, 10)."""
    grad = probs.copy()
    grad[np.arange(len(labels)), labels] -= 1
    return grad / len(labels)

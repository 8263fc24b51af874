"""A multilayer perceptron written from scratch in NumPy: forward pass and backpropagation.

Every operation works on a whole mini-batch at once (no Python loop over samples).
Shapes, for a batch of B images and a layer with n_in inputs and n_out units:
    A_prev (B, n_in) @ W (n_in, n_out) + b (n_out,) = Z (B, n_out);  A = activation(Z)
"""

from typing import NamedTuple

import numpy as np

from .functional import ACTIVATIONS, DERIVATIVES, cross_entropy, cross_entropy_grad, softmax

EVAL_CHUNK = 4096   # rows per forward pass when evaluating or predicting many images: bounds memory


class LayerCache(NamedTuple):
    """What one layer's forward pass keeps for the backward pass (B rows in the batch)."""
    inputs: np.ndarray                # A_prev (B, n_in): what the layer multiplied by W
    pre_activation: np.ndarray        # Z (B, n_out) = A_prev @ W + b; the logits for the last layer
    activation: np.ndarray | None     # f(Z) (B, n_out) before dropout; None for the last layer
    mask: np.ndarray | None           # the dropout mask (B, n_out) that multiplied f(Z), or None


class NumpyMLP:
    def __init__(self, params, activation="relu"):
        """params: [(W, b), ...] as drawn by nn_core.init.init_params (copied, not shared)."""
        self.weights = [np.array(W) for W, _ in params]
        self.biases = [np.array(b) for _, b in params]
        self.activation = activation

    @property
    def dtype(self):
        return self.weights[0].dtype

    @property
    def parameters(self):
        """[W0, b0, W1, b1, ...]: the arrays the optimiser updates in place."""
        return [p for pair in zip(self.weights, self.biases) for p in pair]

    def params(self):
        """[(W, b), ...], copies."""
        return [(W.copy(), b.copy()) for W, b in zip(self.weights, self.biases)]

    def forward(self, X, masks=None):
        """X (B, 784) -> logits (B, 10), and one LayerCache per layer for backprop().

        masks: None (no dropout: evaluation, or a run without it), or one (B, n_out) array per hidden
        layer from nn_core.dropout.dropout_masks: 0 drops a unit, 1/(1-p) keeps and scales it.
        """
        f = ACTIVATIONS[self.activation]
        A = X.astype(self.dtype, copy=False)                # (B, 784)
        cache = []
        for layer, (W, b) in enumerate(zip(self.weights[:-1], self.biases[:-1])):
            Z = A @ W + b                                   # (B, n_in) @ (n_in, n_out) + (n_out,) = (B, n_out)
            A_out = f(Z)                                    # (B, n_out)
            mask = None if masks is None else masks[layer]
            cache.append(LayerCache(A, Z, A_out, mask))
            A = A_out if mask is None else A_out * mask
        logits = A @ self.weights[-1] + self.biases[-1]     # (B, n_last) @ (n_last, 10) + (10,) = (B, 10)
        cache.append(LayerCache(A, logits, None, None))     # softmax belongs to the loss, not the layer
        return logits, cache

    def backward(self, logits, cache, labels, l2=0.0):
        """Gradients of mean cross-entropy (+ l2/2 * sum ||W||^2) w.r.t. [W0, b0, W1, b1, ...]."""
        dZ = cross_entropy_grad(softmax(logits), labels)       # (B, 10)
        return self.backprop(dZ, cache, l2)

    def backprop(self, dZ, cache, l2=0.0, out=None):
        """The chain rule, from the last layer back to the first.

        dZ: d loss / d logits (B, 10); cache: forward()'s. Returns [dW0, db0, dW1, db1, ...]: layer
        l's gradients sit at 2l and 2l + 1, in fresh arrays, or written into `out`'s arrays.
        """
        f_prime = DERIVATIVES[self.activation]
        grads = out if out is not None else [None] * (2 * len(self.weights))
        for layer in reversed(range(len(self.weights))):
            W, A_prev = self.weights[layer], cache[layer].inputs
            dW = np.matmul(A_prev.T, dZ, out=grads[2 * layer])  # (n_in, B) @ (B, n_out) = (n_in, n_out)
            if l2:
                dW += l2 * W                                    # d(l2/2 ||W||^2) / dW
            db = dZ.sum(axis=0, out=grads[2 * layer + 1])       # (B, n_out) summed over rows: (n_out,)
            grads[2 * layer], grads[2 * layer + 1] = dW, db
            if layer > 0:                                       # pass the gradient to the layer below
                below = cache[layer - 1]
                dA = dZ @ W.T                                   # (B, n_out) @ (n_out, n_in) = (B, n_in)
                if below.mask is not None:
                    dA *= below.mask                            # a dropped unit passes no gradient
                dA *= f_prime(below.pre_activation, below.activation)   # dZ_below = dA * f'(Z_below)
                dZ = dA
        return grads

    def loss_and_grads(self, X, labels, l2=0.0, masks=None):
        """One forward and backward pass: (loss, logits, grads); masks as in forward()."""
        logits, cache = self.forward(X, masks)
        grads = self.backward(logits, cache, labels, l2)
        return cross_entropy(logits, labels), logits, grads

    def predict_proba(self, X, batch=EVAL_CHUNK):
        """X (n, 784) -> class probabilities (n, 10), in chunks to bound memory."""
        out = [softmax(self.forward(X[i:i + batch])[0]) for i in range(0, len(X), batch)]
        return np.concatenate(out) if out else np.zeros((0, self.weights[-1].shape[1]), self.dtype)

    def layer_outputs(self, X):
        """Activations of every layer for X (n, 784): [hidden A1, ..., probabilities]."""
        logits, cache = self.forward(X)
        return [layer.activation for layer in cache[:-1]] + [softmax(logits)]

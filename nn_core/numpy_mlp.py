"""A multilayer perceptron written from scratch in NumPy: forward pass and backpropagation.

Every operation works on a whole mini-batch at once (no Python loop over samples).
Shapes, for a batch of B images and a layer with n_in inputs and n_out units:
    A_prev (B, n_in) @ W (n_in, n_out) + b (n_out,) = Z (B, n_out);  A = activation(Z)
"""

import numpy as np

from .functional import ACTIVATIONS, DERIVATIVES, cross_entropy, cross_entropy_grad, softmax


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
        """X (B, 784) -> logits (B, 10), plus the cache backward() needs: inputs and pre-activations.

        masks: None (no dropout: evaluation, or a run without it), or one (B, n_out) array per hidden
        layer from nn_core.dropout.dropout_masks: 0 drops a unit, 1/(1-p) keeps and scales it.
        """
        act = ACTIVATIONS[self.activation]
        A = X.astype(self.dtype, copy=False)
        cache = []  # per hidden layer: (input A_prev, Z, activation(Z), dropout mask or None)
        for layer, (W, b) in enumerate(zip(self.weights[:-1], self.biases[:-1])):
            Z = A @ W + b                            # (B, n_out)
            A_act = act(Z)
            mask = None if masks is None else masks[layer]
            cache.append((A, Z, A_act, mask))
            A = A_act if mask is None else A_act * mask
        logits = A @ self.weights[-1] + self.biases[-1]   # (B, 10)
        cache.append((A, None, None, None))
        return logits, cache

    def backward(self, logits, cache, labels, l2=0.0):
        """Gradients of mean cross-entropy (+ l2/2 * sum ||W||^2) w.r.t. [W0, b0, W1, b1, ...]."""
        dZ = cross_entropy_grad(softmax(logits), labels)       # (B, 10)
        return self.backprop(dZ, cache, l2)

    def backprop(self, dZ, cache, l2=0.0, out=None):
        """The chain rule from the output layer's dZ (B, 10) back to the first layer: the gradients
        [dW0, db0, dW1, db1, ...], in fresh arrays, or written into `out`'s arrays of those shapes."""
        deriv = DERIVATIVES[self.activation]
        grads = out or [None] * (2 * len(self.weights))        # filled from the last layer back
        for layer in reversed(range(len(self.weights))):
            A_prev = cache[layer][0]
            W = self.weights[layer]
            dW = np.matmul(A_prev.T, dZ, out=grads[2 * layer])  # A_prev.T @ dZ: (n_in, n_out)
            if l2:
                dW += l2 * W
            db = dZ.sum(axis=0, out=grads[2 * layer + 1])      # (n_out,)
            grads[2 * layer], grads[2 * layer + 1] = dW, db
            if layer == 0:
                break
            dA_prev = dZ @ W.T                                  # (B, n_in)
            _, Z_prev, A_out, mask = cache[layer - 1]
            if mask is not None:
                dA_prev *= mask
            dA_prev *= deriv(Z_prev, A_out)                     # dZ_prev = dA_prev * f'(Z_prev)
            dZ = dA_prev
        return grads

    def loss_and_grads(self, X, labels, l2=0.0, masks=None):
        """One forward and backward pass: (loss, logits, grads); masks as in forward()."""
        logits, cache = self.forward(X, masks)
        grads = self.backward(logits, cache, labels, l2)
        return cross_entropy(logits, labels), logits, grads

    def predict_proba(self, X, batch=4096):
        """X (n, 784) -> class probabilities (n, 10), in chunks to bound memory."""
        out = [softmax(self.forward(X[i:i + batch])[0]) for i in range(0, len(X), batch)]
        return np.concatenate(out) if out else np.zeros((0, self.weights[-1].shape[1]), self.dtype)

    def layer_outputs(self, X):
        """Activations of every layer for X (n, 784): [hidden A1, ..., probabilities]."""
        logits, cache = self.forward(X)
        return [c[2] for c in cache[:-1]] + [softmax(logits)]

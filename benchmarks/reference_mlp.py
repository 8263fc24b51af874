"""The yardstick for the NumPy twin's speed: a minimal, hand-tuned NumPy training loop.

ReLU MLP, softmax cross-entropy, plain SGD, any float dtype. Everything a step needs is allocated
once; a step writes into those buffers (`out=`, in-place operators) and does nothing but the maths:
forward, the batch loss, backward, update. The batches are slices of one contiguous copy of the
data in the epoch's order, written into the same array every epoch. No records, no diagnostics, no accuracy, no divergence check, no
dropout: it is what the twin would be if it taught nothing. benchmarks/bench_peers.py times the twin
against it (goal: the twin at >= 0.95x its samples/s).
"""

import numpy as np


class ReferenceMLP:
    def __init__(self, params, lr, batch_size):
        """params: [(W (n_in, n_out), b (n_out,)), ...], copied; buffers for batches of <= batch_size."""
        self.W = [np.array(W) for W, _ in params]
        self.b = [np.array(b) for _, b in params]
        self.lr = lr
        dtype = self.W[0].dtype
        self.Z = [np.empty((batch_size, W.shape[1]), dtype) for W in self.W]       # activations
        self.dZ = [np.empty((batch_size, W.shape[1]), dtype) for W in self.W]      # their gradients
        self.dW = [np.empty_like(W) for W in self.W]
        self.db = [np.empty_like(b) for b in self.b]
        self.rows = np.arange(batch_size)
        self.epoch_x = self.epoch_y = None                                          # the data, reordered

    def step(self, xb, yb):
        """One SGD step on xb (B, n_in), yb (B,); returns the batch's mean cross-entropy."""
        B, last = len(yb), len(self.W) - 1
        A = [xb] + [Z[:B] for Z in self.Z]
        for layer in range(last + 1):
            np.matmul(A[layer], self.W[layer], out=A[layer + 1])
            A[layer + 1] += self.b[layer]
            if layer < last:
                np.maximum(A[layer + 1], 0, out=A[layer + 1])
        probs = A[-1]                                        # logits -> softmax, in place
        probs -= probs.max(axis=1, keepdims=True)
        np.exp(probs, out=probs)
        probs /= probs.sum(axis=1, keepdims=True)
        picked = probs[self.rows[:B], yb]
        loss = -float(np.log(picked).mean())
        dZ = self.dZ[last][:B]
        np.multiply(probs, 1 / B, out=dZ)                    # (softmax - one_hot) / B
        dZ[self.rows[:B], yb] -= 1 / B
        for layer in range(last, -1, -1):
            np.matmul(A[layer].T, dZ, out=self.dW[layer])
            np.sum(dZ, axis=0, out=self.db[layer])
            if layer:
                dA = self.dZ[layer - 1][:B]
                np.matmul(dZ, self.W[layer].T, out=dA)
                dA *= A[layer] > 0                           # ReLU'
                dZ = dA
            self.dW[layer] *= self.lr
            self.W[layer] -= self.dW[layer]
            self.db[layer] *= self.lr
            self.b[layer] -= self.db[layer]
        return loss

    def train(self, x, y, epochs, seed_orders):
        """epochs passes over x (n, n_in), y (n,); seed_orders(epoch) -> that epoch's row order."""
        batch = len(self.rows)
        if self.epoch_x is None or self.epoch_x.shape != x.shape:
            self.epoch_x, self.epoch_y = np.empty_like(x), np.empty_like(y)
        for epoch in range(1, epochs + 1):
            order = seed_orders(epoch)
            np.take(x, order, axis=0, out=self.epoch_x, mode="clip")   # contiguous, in the epoch's order
            np.take(y, order, out=self.epoch_y, mode="clip")
            for start in range(0, len(order), batch):
                self.step(self.epoch_x[start:start + batch], self.epoch_y[start:start + batch])

    def params(self):
        return [(W.copy(), b.copy()) for W, b in zip(self.W, self.b)]

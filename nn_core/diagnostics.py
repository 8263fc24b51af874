"""Per-layer diagnostics that both twins compute the same way, from NumPy arrays, at diagnostic steps."""

import math

import numpy as np


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

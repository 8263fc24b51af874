"""One image through the network, step by step, with the real numbers: the forward pass, the loss,
and backpropagation, each step with its equation, its shape and a few of its values.

Built on NumpyMLP: the forward numbers are its forward cache, and the backward steps are the same
operations as NumpyMLP.backward, spelled out one at a time (a test checks they agree exactly).
Notation for a batch of B images (here B = 1) and layer l with n_{l-1} inputs and n_l units:
    Z[l] = A[l-1] W[l] + b[l]        (B, n_{l-1}) @ (n_{l-1}, n_l) + (n_l,) -> (B, n_l)
    A[l] = f(Z[l])                   (B, n_l)
"""
from __future__ import annotations

import numpy as np

from .functional import DERIVATIVES, cross_entropy, softmax
from .numpy_mlp import NumpyMLP

PREVIEW = 5   # how many leading values a step shows

# The activation f and its derivative f', as LaTeX, keyed like functional.ACTIVATIONS.
ACTIVATION_LATEX = {
    "relu": (r"\operatorname{ReLU}(z) = \max(0, z)", r"f'(z) = [z > 0]"),
    "leaky_relu": (r"\operatorname{LeakyReLU}(z) = \max(0.01 z, z)", r"f'(z) = 1 \text{ if } z > 0 \text{ else } 0.01"),
    "sigmoid": (r"\sigma(z) = \frac{1}{1 + e^{-z}}", r"f'(z) = a (1 - a)"),
    "tanh": (r"\tanh(z)", r"f'(z) = 1 - a^2"),
}


def _shape(array) -> str:
    """(1, 128) -> '1 × 128'; a scalar -> 'scalar'."""
    shape = np.shape(array)
    return " × ".join(str(n) for n in shape) if shape else "scalar"


def _step(name, phase, layer, latex, array, note="") -> dict:
    """One row of the trace: what was computed, its equation, and a preview of its numbers."""
    flat = np.ravel(np.asarray(array, dtype=np.float64))
    return {
        "name": name,
        "phase": phase,                        # "forward", "loss" or "backward"
        "layer": layer,                        # 1..L, or None for the input, softmax and loss
        "equation_latex": latex,
        "shape": _shape(array),
        "values_preview": [float(v) for v in flat[:PREVIEW]],
        "norm": float(np.sqrt(flat @ flat)),
        "note": note,
        "array": np.asarray(array),
    }


def forward_backward_trace(saved_model, x: np.ndarray, label: int) -> list[dict]:
    """Every step of one forward and backward pass for one image.

    saved_model: a model_io.SavedModel (params [(W, b), ...], activation); x: (784,) in [0, 1];
    label: the true digit. Returns a list of step dicts with keys name, phase, layer,
    equation_latex, shape (e.g. '1 × 128'), values_preview (first values), norm (Frobenius),
    note, and array (the full numbers). Gradient steps are named 'dW[l]' and 'db[l]'.
    """
    model = NumpyMLP(saved_model.params, saved_model.activation)
    X = np.asarray(x, dtype=model.dtype).reshape(1, -1)            # (1, 784)
    labels = np.array([int(label)])
    n_layers = len(model.weights)
    f_latex, f_prime_latex = ACTIVATION_LATEX[model.activation]
    logits, cache = model.forward(X)
    steps = [_step("A[0]", "forward", None, r"A^{[0]} = x \quad\text{(the pixels, scaled to [0, 1])}", X,
                   note=f"{int((X > 0).sum())} of {X.size} pixels hold ink; the rest are 0")]

    # ---- forward: Z = A W + b, A = f(Z) for each hidden layer, then the output layer's logits
    for layer in range(1, n_layers + 1):
        A_prev, Z, A, _ = cache[layer - 1]
        W, b = model.weights[layer - 1], model.biases[layer - 1]
        shapes = rf"\underbrace{{A^{{[{layer - 1}]}}}}_{{{_tex_shape(A_prev)}}}\,\underbrace{{W^{{[{layer}]}}}}_{{{_tex_shape(W)}}} + \underbrace{{b^{{[{layer}]}}}}_{{{_tex_shape(b)}}}"
        if layer < n_layers:
            steps.append(_step(f"Z[{layer}]", "forward", layer, rf"Z^{{[{layer}]}} = {shapes}", Z))
            steps.append(_step(f"A[{layer}]", "forward", layer,
                               rf"A^{{[{layer}]}} = f(Z^{{[{layer}]}}), \quad f = {f_latex}", A,
                               note=f"{int((A > 0).sum())} of {A.size} units are positive"))
        else:
            steps.append(_step(f"Z[{layer}]", "forward", layer,
                               rf"Z^{{[{layer}]}} = {shapes} \quad\text{{(the logits)}}", logits))

    probs = softmax(logits)                                         # (1, 10)
    steps.append(_step("p", "forward", None,
                       r"p_k = \operatorname{softmax}(Z^{[L]})_k = \frac{e^{z_k}}{\sum_{j=0}^{9} e^{z_j}}",
                       probs, note=f"predicted digit {int(probs.argmax())} with p = {probs.max():.3f}"))
    loss = cross_entropy(logits, labels)
    steps.append(_step("loss", "loss", None,
                       rf"\mathcal{{L}} = -\log p_{{y}} = -\log p_{{{int(label)}}} = {loss:.4f}",
                       np.float64(loss), note=f"true digit y = {int(label)}"))

    # ---- backward: the same operations as NumpyMLP.backward, one named step at a time
    one_hot = np.zeros_like(probs)
    one_hot[0, int(label)] = 1
    dZ = (probs - one_hot) / len(labels)                            # (1, 10), = cross_entropy_grad
    steps.append(_step(f"dZ[{n_layers}]", "backward", n_layers,
                       rf"dZ^{{[{n_layers}]}} = \frac{{\partial \mathcal{{L}}}}{{\partial Z^{{[{n_layers}]}}}} = \frac{{p - \operatorname{{onehot}}(y)}}{{B}}",
                       dZ, note="only the true digit's entry is negative"))
    deriv = DERIVATIVES[model.activation]
    for layer in range(n_layers, 0, -1):
        A_prev = cache[layer - 1][0]
        W = model.weights[layer - 1]
        dW = A_prev.T @ dZ                                          # (n_in, n_out)
        db = dZ.sum(axis=0)                                         # (n_out,)
        steps.append(_step(f"dW[{layer}]", "backward", layer,
                           rf"dW^{{[{layer}]}} = \underbrace{{A^{{[{layer - 1}]\top}}}}_{{{_tex_shape(A_prev.T)}}}\,\underbrace{{dZ^{{[{layer}]}}}}_{{{_tex_shape(dZ)}}}",
                           dW))
        steps.append(_step(f"db[{layer}]", "backward", layer,
                           rf"db^{{[{layer}]}} = \textstyle\sum_{{\text{{rows}}}} dZ^{{[{layer}]}}", db))
        if layer == 1:
            break
        dA_prev = dZ @ W.T                                          # (B, n_in)
        steps.append(_step(f"dA[{layer - 1}]", "backward", layer - 1,
                           rf"dA^{{[{layer - 1}]}} = \underbrace{{dZ^{{[{layer}]}}}}_{{{_tex_shape(dZ)}}}\,\underbrace{{W^{{[{layer}]\top}}}}_{{{_tex_shape(W.T)}}}",
                           dA_prev))
        _, Z_prev, A_out, _ = cache[layer - 2]
        dZ = dA_prev * deriv(Z_prev, A_out)
        steps.append(_step(f"dZ[{layer - 1}]", "backward", layer - 1,
                           rf"dZ^{{[{layer - 1}]}} = dA^{{[{layer - 1}]}} \odot f'(Z^{{[{layer - 1}]}}), \quad {f_prime_latex}",
                           dZ))
    return steps


def _tex_shape(array) -> str:
    """(1, 784) -> '1 \\times 784', for the labels under the equations."""
    return r" \times ".join(str(n) for n in np.shape(array))


def trace_gradients(steps: list[dict]) -> list[np.ndarray]:
    """[dW1, db1, dW2, db2, ...] from a trace, in NumpyMLP.backward's order."""
    by_name = {step["name"]: step["array"] for step in steps}
    n_layers = sum(1 for name in by_name if name.startswith("dW["))
    return [by_name[f"{kind}[{layer}]"] for layer in range(1, n_layers + 1) for kind in ("dW", "db")]


def layer_activations(saved_model, x: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """[(name, values (units,)), ...] for one image x (784,): each hidden layer, then p."""
    model = NumpyMLP(saved_model.params, saved_model.activation)
    outputs = model.layer_outputs(np.asarray(x, dtype=model.dtype).reshape(1, -1))
    names = [f"hidden layer {i + 1} (A[{i + 1}])" for i in range(len(outputs) - 1)] + ["output p"]
    return [(name, values[0]) for name, values in zip(names, outputs)]


def batch_gradients(saved_model, x: np.ndarray, labels: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """[(dW, db), ...] per layer: gradients of the mean cross-entropy over x (n, 784), labels (n,)."""
    model = NumpyMLP(saved_model.params, saved_model.activation)
    _, _, grads = model.loss_and_grads(np.asarray(x, dtype=model.dtype), np.asarray(labels))
    return list(zip(grads[0::2], grads[1::2]))


def histogram(values: np.ndarray, bins: int = 40) -> tuple[np.ndarray, np.ndarray]:
    """(bin centres (bins,), counts (bins,)) of all of values' entries."""
    counts, edges = np.histogram(np.ravel(values), bins=bins)
    return (edges[:-1] + edges[1:]) / 2, counts

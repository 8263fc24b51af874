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

PREVIEW = 5   # how many of the largest values a step shows

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


def largest(array, n=PREVIEW) -> list[tuple[tuple, float]]:
    """[(index, value), ...] of the n entries largest in size, largest first; index is a tuple like
    (0, 17). Not the first n: those are the blank top-left pixels of a digit, and what they feed."""
    array = np.asarray(array, dtype=np.float64)
    flat = np.ravel(array)
    order = np.argsort(-np.abs(flat), kind="stable")[:n]
    return [(tuple(int(k) for k in np.unravel_index(i, array.shape)), float(flat[i])) for i in order]


def _step(name, phase, layer, latex, array, note="") -> dict:
    """One row of the trace: what was computed, its equation, and its largest numbers."""
    flat = np.ravel(np.asarray(array, dtype=np.float64))
    return {
        "name": name,
        "phase": phase,                        # "forward", "loss" or "backward"
        "layer": layer,                        # 1..L, or None for the input, softmax and loss
        "equation_latex": latex,
        "shape": _shape(array),
        "largest": largest(array),
        "norm": float(np.sqrt(flat @ flat)),
        "note": note,
        "array": np.asarray(array),
    }


def forward_backward_trace(saved_model, x: np.ndarray, label: int, l2: float = 0.0) -> list[dict]:
    """Every step of one forward and backward pass for one image.

    saved_model: a model_io.SavedModel (params [(W, b), ...], activation); x: (784,) in [0, 1];
    label: the true digit; l2: the weight decay whose gradient l2 * W joins dW. Returns a list of
    step dicts with keys name, phase, layer, equation_latex, shape (e.g. '1 × 128'), largest
    ([(index, value)] of the largest entries), norm (Frobenius), note, and array (the full
    numbers). Gradient steps are named 'dW[l]' and 'db[l]'.
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
        A_prev, Z, A, _ = cache[layer - 1]   # a LayerCache: inputs, pre-activation, f(Z), mask
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
        A_prev = cache[layer - 1].inputs
        W = model.weights[layer - 1]
        dW = A_prev.T @ dZ                                          # (n_in, n_out)
        decay = ""
        if l2:
            dW += l2 * W
            decay = rf" + \lambda W^{{[{layer}]}}"
        db = dZ.sum(axis=0)                                         # (n_out,)
        steps.append(_step(f"dW[{layer}]", "backward", layer,
                           rf"dW^{{[{layer}]}} = \underbrace{{A^{{[{layer - 1}]\top}}}}_{{{_tex_shape(A_prev.T)}}}\,\underbrace{{dZ^{{[{layer}]}}}}_{{{_tex_shape(dZ)}}}{decay}",
                           dW))
        steps.append(_step(f"db[{layer}]", "backward", layer,
                           rf"db^{{[{layer}]}} = \textstyle\sum_{{\text{{rows}}}} dZ^{{[{layer}]}}", db))
        if layer == 1:
            break
        dA_prev = dZ @ W.T                                          # (B, n_in)
        steps.append(_step(f"dA[{layer - 1}]", "backward", layer - 1,
                           rf"dA^{{[{layer - 1}]}} = \underbrace{{dZ^{{[{layer}]}}}}_{{{_tex_shape(dZ)}}}\,\underbrace{{W^{{[{layer}]\top}}}}_{{{_tex_shape(W.T)}}}",
                           dA_prev))
        below = cache[layer - 2]
        dZ = dA_prev * deriv(below.pre_activation, below.activation)
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


def zero_rows(dW: np.ndarray) -> int:
    """How many rows of a gradient dW (n_in, n_out) are exactly 0: inputs that passed no gradient."""
    return int((~np.asarray(dW).any(axis=1)).sum())


# ---- one training step, stage by stage (the "One training step" page) ---------------------------

# What a learner must know to read each stage, keyed by the stage's kind.
STAGE_TEXT = {
    "input": ("The digit enters as A[0] = x: its 784 pixels, row by row, scaled from 0-255 to [0, 1]. "
              "B is the batch size: 1 here, one digit."),
    "hidden": ("Each unit adds up its inputs, each times its weight, plus its bias: that sum is Z, "
               "the pre-activation. The activation f then gives the unit's output A = f(Z) (a in "
               "the derivative below is that output)."),
    "output": ("The last layer is the same sum without an activation. Its 10 outputs are the "
               "logits: raw scores, one per digit, any real number."),
    "softmax": "Softmax turns the logits into probabilities: positive, summing to 1.",
    "loss": ("The loss is the cross-entropy: minus the log of the probability given to the true "
             "digit y. It is 0 for a sure, right answer and ln 10 ≈ 2.30 for a uniform guess."),
    "output_error": ("Backpropagation starts at the logits. For softmax followed by cross-entropy "
                     "the derivative is simply p minus onehot(y) (1 at the true digit, 0 elsewhere), "
                     "divided by B."),
    "backward": ("Going back through layer l: dW and db are the gradients the optimizer will use; "
                 "dA passes the error to the layer below, and multiplying by f'(Z) entry by entry "
                 "(⊙) turns it into that layer's dZ. For ReLU, [z > 0] is 1 where z > 0 and 0 "
                 "elsewhere: a unit that was off passes no gradient back."),
    "update": ("Finally the optimizer moves every weight against its gradient, with its own rule. "
               "This is one step of a fresh optimizer: its state (v, m, s) starts at 0; in a run it "
               "carries the gradients of all earlier steps."),
}


def _stage(kind, title, steps) -> dict:
    return {"kind": kind, "title": title, "text": STAGE_TEXT[kind], "steps": steps}


def stages(steps: list[dict]) -> list[dict]:
    """The trace's steps grouped into the stages the page pages through (the update comes after):
    input, each layer forward, softmax, loss, output error, each layer backward."""
    by_name = {s["name"]: s for s in steps}
    n_layers = sum(1 for name in by_name if name.startswith("dW["))
    out = [_stage("input", "The input", [by_name["A[0]"]])]
    for layer in range(1, n_layers):
        out.append(_stage("hidden", f"Forward: hidden layer {layer}",
                          [by_name[f"Z[{layer}]"], by_name[f"A[{layer}]"]]))
    out.append(_stage("output", f"Forward: output layer {n_layers}", [by_name[f"Z[{n_layers}]"]]))
    out.append(_stage("softmax", "Forward: probabilities", [by_name["p"]]))
    out.append(_stage("loss", "The loss", [by_name["loss"]]))
    out.append(_stage("output_error", "Backward: the error at the output", [by_name[f"dZ[{n_layers}]"]]))
    for layer in range(n_layers, 0, -1):
        names = [f"dW[{layer}]", f"db[{layer}]"] + ([f"dA[{layer - 1}]", f"dZ[{layer - 1}]"] if layer > 1 else [])
        out.append(_stage("backward", f"Backward: layer {layer}", [by_name[n] for n in names]))
    return out


def compare(mine, theirs) -> dict:
    """Karpathy's `cmp` from "backprop ninja": 'exact' if every entry is equal, 'close' if all are
    within np.allclose's tolerance, else 'differs'; and the largest difference."""
    mine, theirs = np.asarray(mine), np.asarray(theirs)
    max_diff = float(np.abs(mine - theirs).max()) if mine.size else 0.0
    verdict = "exact" if np.array_equal(mine, theirs) else (
        "close" if np.allclose(mine, theirs) else "differs")
    return {"verdict": verdict, "max_diff": max_diff}


def autograd_gradients(saved_model, x: np.ndarray, label: int, l2: float = 0.0) -> dict | None:
    """torch autograd's gradient of every tensor the trace differentiates: name ('dZ[2]', 'dA[1]',
    'dW[1]', 'db[1]', ...) -> NumPy array in the trace's layout; None without torch.

    The same network written with torch operations on the same numbers (W as (n_in, n_out), so
    no transposes), differentiated by loss.backward(); intermediate tensors keep their .grad.
    """
    try:
        import torch
        from .torch_mlp import ACTIVATION_MODULES
    except ImportError:
        return None
    act = ACTIVATION_MODULES[saved_model.activation]()
    weights = [torch.tensor(np.asarray(W), requires_grad=True) for W, _ in saved_model.params]
    biases = [torch.tensor(np.asarray(b), requires_grad=True) for _, b in saved_model.params]
    A = torch.tensor(np.asarray(x, dtype=weights[0].detach().numpy().dtype).reshape(1, -1))
    tracked = {}
    n_layers = len(weights)
    for layer, (W, b) in enumerate(zip(weights, biases), start=1):
        Z = A @ W + b
        Z.retain_grad()
        tracked[f"dZ[{layer}]"] = Z
        if layer < n_layers:
            A = act(Z)
            A.retain_grad()
            tracked[f"dA[{layer}]"] = A
    loss = torch.nn.functional.cross_entropy(Z, torch.tensor([int(label)]))
    if l2:
        loss = loss + 0.5 * l2 * sum((W * W).sum() for W in weights)
    loss.backward()
    grads = {name: t.grad.numpy() for name, t in tracked.items()}
    for layer, (W, b) in enumerate(zip(weights, biases), start=1):
        grads[f"dW[{layer}]"], grads[f"db[{layer}]"] = W.grad.numpy(), b.grad.numpy()
    return grads


def gradient_comparison(steps: list[dict], autograd: dict) -> list[dict]:
    """One row per gradient tensor of the trace, in backward order: name, shape, verdict, max_diff."""
    return [{"name": s["name"], "shape": s["shape"], **compare(s["array"], autograd[s["name"]])}
            for s in steps if s["phase"] == "backward"]


# symbol in the update rule -> the optimizer attribute holding it (one array per parameter)
OPTIMIZER_STATE = {
    "sgd": {},
    "momentum": {"v": "buffers"},
    "nesterov": {"v": "buffers"},
    "rmsprop": {"s": "square_avg"},
    "adam": {"m": "m", "s": "v"},
}


def update_step(saved_model, grads: list, optimizer: str, lr: float) -> dict:
    """The optimizer's real update (nn_core.optim, torch.optim's formulas) on copies of the weights.

    grads: [dW1, db1, dW2, ...]. Returns latex (the rule), rows (per parameter: name, shape, |g|,
    |Δw|, |Δw| / |w|), example (the numbers of the entry with the largest gradient: name, index,
    w before, g, each state symbol's value, w after) and params_after [(W, b), ...].
    """
    from .optim import OPTIMIZERS, UPDATE_LATEX
    before = [np.array(p) for pair in saved_model.params for p in pair]
    params = [p.copy() for p in before]
    opt = OPTIMIZERS[optimizer](lr)
    opt.step(params, grads)
    state = {symbol: getattr(opt, attr) for symbol, attr in OPTIMIZER_STATE[optimizer].items()}
    names = [f"{kind}[{k // 2 + 1}]" for k, kind in enumerate(["W", "b"] * (len(before) // 2))]

    def norm(a):
        return float(np.sqrt(np.sum(np.square(a, dtype=np.float64))))

    rows = [{"parameter": name, "shape": _shape(p0), "|g|": norm(g), "|Δw|": norm(p1 - p0),
             "|Δw| / |w|": norm(p1 - p0) / max(norm(p0), 1e-300)}
            for name, p0, p1, g in zip(names, before, params, grads)]
    k = int(np.argmax([np.abs(g).max() for g in grads]))
    i = int(np.abs(grads[k]).argmax())
    example = {"name": names[k], "index": np.unravel_index(i, grads[k].shape),
               "w": float(before[k].flat[i]), "g": float(grads[k].flat[i]),
               "state": {symbol: float(arrays[k].flat[i]) for symbol, arrays in state.items()},
               "w_after": float(params[k].flat[i])}
    return {"latex": UPDATE_LATEX[optimizer], "rows": rows, "example": example,
            "params_after": list(zip(params[0::2], params[1::2]))}


def training_step(saved_model, x: np.ndarray, label: int, optimizer: str = "momentum", lr: float = 0.1,
                  l2: float = 0.0, dtype: str = "float64") -> dict:
    """One digit through a whole training step, in `dtype`: stages (see `stages`), comparison (NumPy
    vs autograd per gradient tensor; None without torch), update (see `update_step`), and the loss
    on this digit before and after the update."""
    from .model_io import SavedModel
    model = SavedModel([(np.asarray(W, dtype=dtype), np.asarray(b, dtype=dtype))
                        for W, b in saved_model.params], saved_model.activation)
    x = np.asarray(x, dtype=dtype)
    steps = forward_backward_trace(model, x, label, l2)
    autograd = autograd_gradients(model, x, label, l2)
    update = update_step(model, trace_gradients(steps), optimizer, lr)
    after = NumpyMLP(update["params_after"], model.activation).forward(x.reshape(1, -1))[0]
    return {"stages": stages(steps),
            "comparison": None if autograd is None else gradient_comparison(steps, autograd),
            "update": update,
            "loss_before": next(s["array"] for s in steps if s["name"] == "loss").item(),
            "loss_after": cross_entropy(after, np.array([int(label)])) + 0.0,   # never -0.0
            "dtype": dtype}


# ---- one unit up close --------------------------------------------------------------------------

def unit_view(saved_model, x: np.ndarray, label: int, unit: int, l2: float = 0.0) -> dict:
    """Unit `unit` (0-based) of the first layer for one digit x (784,): forward and backward.

    Forward: weights (28, 28), ink (28, 28) = x, contribution = ink * weights (28, 28), total =
    its sum, bias, z = total + bias, a = f(z). Backward: incoming dA (the gradient arriving from the
    layer above), local f'(z), dz = dA * f'(z), and gradient (28, 28) = ink * dz (+ l2 * weights):
    the unit's row of dW. With no hidden layer the unit is output digit `unit`: a is its
    probability p and dz = p - [unit == label] (softmax and cross-entropy together).
    """
    model = NumpyMLP(saved_model.params, saved_model.activation)
    X = np.asarray(x, dtype=model.dtype).reshape(1, -1)
    steps = {s["name"]: s["array"] for s in forward_backward_trace(saved_model, x, label, l2)}
    W, b = model.weights[0][:, unit], model.biases[0][unit]
    contribution = X[0] * W
    z = float(steps["Z[1]"][0, unit])
    output = len(model.weights) == 1
    dz = float(steps["dZ[1]"][0, unit])
    if output:
        a = float(steps["p"][0, unit])
        incoming = local = None
    else:
        a = float(steps["A[1]"][0, unit])
        incoming = float(steps["dA[1]"][0, unit])
        local = float(DERIVATIVES[model.activation](np.array([z]), np.array([a]))[0])
    return {"unit": unit, "is_output": output, "activation": model.activation,
            "weights": W.reshape(28, 28), "ink": X[0].reshape(28, 28),
            "contribution": contribution.reshape(28, 28), "total": float(contribution.sum()),
            "bias": float(b), "z": z, "a": a, "incoming": incoming, "local": local, "dz": dz,
            "gradient": steps["dW[1]"][:, unit].reshape(28, 28),
            "top_pixels": largest(contribution.reshape(28, 28))}

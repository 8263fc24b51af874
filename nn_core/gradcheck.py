"""Is backpropagation right? Three ways to get the same gradients, compared in float64.

1. NumPy backprop: the hand-written backward pass in numpy_mlp.py.
2. torch autograd: the same objective built from the same weights with TorchMLP, differentiated by torch.
3. Central finite differences: nudge one weight by +eps and -eps and watch the loss,
       dL/dw ~ (L(w + eps) - L(w - eps)) / (2 eps),
   on `n_probes` randomly chosen entries of each parameter (every entry of a 784x16 matrix would be
   784 * 16 * 2 forward passes: too slow, and a random sample finds a wrong formula just as well).

The objective is the one the optimiser sees: mean cross-entropy + (l2 / 2) * sum ||W||^2 over the
weight matrices (not the biases).

Relative error between two arrays a and b (the entries compared) is
    max_i |a_i - b_i| / max(max_i (|a_i| + |b_i|), floor)
i.e. the largest difference measured against the largest gradient entry. Unlike an entry-by-entry
|a - b| / |a|, it does not blow up on entries that are (almost) zero, such as the gradient of a
ReLU unit that no input switched on.

The floor matters for finite differences. Each loss is rounded to float64 (about 16 significant
digits), so L(w + eps) - L(w - eps) carries an absolute error of a few units in the last place of L,
and the slope an error of about machine_eps * |L| / eps (~5e-10 here), whatever the true slope.
A whole layer's gradient can be smaller than 1e-5 (deep sigmoid networks, one-unit layers), and
measured against itself that noise alone would exceed the tolerance. So finite differences are
compared against at least FD_NOISE_MARGIN * noise / FINITE_DIFF_TOL: a difference within ten times
the rounding noise always passes, a real mistake in a gradient of any size still fails.
"""

import math
from dataclasses import dataclass

import numpy as np

from .functional import cross_entropy
from .init import init_params
from .numpy_mlp import NumpyMLP

AUTOGRAD_TOL = 1e-7      # two exact methods: only floating-point rounding separates them
FINITE_DIFF_TOL = 1e-5   # finite differences are approximate: truncation ~ eps^2, rounding ~ 1e-16/eps
TINY = 1e-30
FD_NOISE_MARGIN = 10     # differences up to this many times the finite differences' rounding noise pass
KINKED = ("relu", "leaky_relu")  # activations whose derivative jumps at 0


def relative_error(a, b, floor=TINY) -> float:
    """max |a - b| / max(max(|a| + |b|), floor), over all entries (see the module docstring)."""
    a, b = np.asarray(a, dtype=np.float64).ravel(), np.asarray(b, dtype=np.float64).ravel()
    if a.size == 0:
        return 0.0
    return float(np.abs(a - b).max() / max(float((np.abs(a) + np.abs(b)).max()), floor))


def finite_difference_noise(loss: float, eps: float) -> float:
    """The rounding error of (L(w + eps) - L(w - eps)) / (2 eps) in float64: ~machine_eps * |L| / eps."""
    return float(np.finfo(np.float64).eps * max(abs(loss), 1.0) / eps)


@dataclass
class GradCheckReport:
    rows: list              # one dict per parameter: layer (1-based), param ("W"/"b"), shape,
                            # autograd_rel_err, finite_diff_rel_err (NaN if no entry could be
                            # probed), probes (entries compared)
    max_autograd: float     # NaN when torch is not installed
    max_finite_diff: float  # over the rows with probes
    autograd_checked: bool = True   # False without torch: then only finite differences count
    loss: float = math.nan          # the objective at the unperturbed weights
    fd_noise: float = 0.0           # rounding noise of one finite difference (module docstring)
    median_loss_change: float = math.nan   # median |L(w+eps) - L(w-eps)| / |L| over the probes

    @property
    def passed(self) -> bool:
        """Every row within its tolerances. A row with no probe is not checked by finite differences
        (it cannot fail), but at least one row must have been probed."""
        autograd_ok = self.max_autograd <= AUTOGRAD_TOL if self.autograd_checked else True
        probed = any(r["probes"] > 0 for r in self.rows)
        return autograd_ok and probed and self.max_finite_diff <= FINITE_DIFF_TOL

    @property
    def first_differing_digit(self) -> int | None:
        """From which significant digit on L(w + eps) and L(w - eps) typically differ."""
        if not self.median_loss_change > 0:
            return None
        return int(math.floor(-math.log10(self.median_loss_change))) + 1


def _objective(model, X, y, l2):
    """The loss the optimiser minimises (and its forward cache, for the kink check)."""
    logits, cache = model.forward(X)
    penalty = 0.5 * l2 * sum(float((W * W).sum()) for W in model.weights)
    return cross_entropy(logits, y) + penalty, cache


def _signs(cache):
    """Which hidden pre-activations are > 0: this pattern picks ReLU's branch for every unit."""
    return [layer.pre_activation > 0 for layer in cache[:-1]]


def _autograd(params, X, y, activation, l2):
    """torch's gradients as [dW0, db0, dW1, ...] in NumPy layout, or None without torch."""
    try:
        import torch
        from .torch_mlp import TorchMLP
    except ImportError:
        return None
    model = TorchMLP.from_params(params, activation, dtype="float64", device="cpu")
    logits = model(torch.from_numpy(X))
    loss = torch.nn.functional.cross_entropy(logits, torch.from_numpy(y))
    loss = loss + 0.5 * l2 * sum((w * w).sum() for w in model.weight_matrices())
    loss.backward()
    grads = []
    for linear in model.linears:
        grads += [linear.weight.grad.numpy().T, linear.bias.grad.numpy()]  # torch's W is transposed
    return grads


def gradient_check(hidden=(16, 8), activation="relu", l2=0.0, seed=0, batch=8, init="he",
                   n_probes=20, eps=1e-6) -> GradCheckReport:
    """Compare NumPy backprop with torch autograd and with finite differences, parameter by parameter."""
    rng = np.random.default_rng(seed)
    X = rng.random((batch, 784))                      # float64 "pixels" in [0, 1)
    y = rng.integers(0, 10, size=batch)               # int64 labels
    params = init_params((784, *hidden, 10), init, seed, "float64")
    model = NumpyMLP(params, activation)              # no dropout: the objective is deterministic

    _, _, backprop = model.loss_and_grads(X, y, l2)
    autograd = _autograd(params, X, y, activation, l2)
    loss0, cache0 = _objective(model, X, y, l2)
    signs0 = _signs(cache0)
    noise = finite_difference_noise(loss0, eps)
    floor = FD_NOISE_MARGIN * noise / FINITE_DIFF_TOL

    rows, changes = [], []
    for k, (p, g) in enumerate(zip(model.parameters, backprop)):
        flat = p.reshape(-1)                           # a view: writing to it changes the model
        probes = rng.choice(flat.size, size=min(n_probes, flat.size), replace=False)
        numeric, exact = [], []
        for i in probes:
            original = flat[i]
            flat[i] = original + eps
            loss_plus, cache_plus = _objective(model, X, y, l2)
            flat[i] = original - eps
            loss_minus, cache_minus = _objective(model, X, y, l2)
            flat[i] = original
            # ReLU's slope jumps at 0. If the nudge moved any hidden pre-activation across 0, the
            # loss is not smooth between w - eps and w + eps and the difference quotient mixes two
            # slopes, so it says nothing about backprop: skip that probe. (With random inputs and
            # eps = 1e-6 this is rare; for sigmoid and tanh it never happens.)
            if activation in KINKED and any(
                    (s != s_plus).any() or (s != s_minus).any()
                    for s, s_plus, s_minus in zip(signs0, _signs(cache_plus), _signs(cache_minus))):
                continue
            numeric.append((loss_plus - loss_minus) / (2 * eps))
            exact.append(g.reshape(-1)[i])
            changes.append(abs(loss_plus - loss_minus) / max(abs(loss0), TINY))
        rows.append({
            "layer": k // 2 + 1,
            "param": "W" if k % 2 == 0 else "b",
            "shape": tuple(p.shape),
            "autograd_rel_err": math.nan if autograd is None else relative_error(g, autograd[k]),
            "finite_diff_rel_err": relative_error(exact, numeric, floor) if numeric else math.nan,
            "probes": len(numeric),
        })
    max_autograd = math.nan if autograd is None else max(r["autograd_rel_err"] for r in rows)
    probed = [r["finite_diff_rel_err"] for r in rows if r["probes"]]
    return GradCheckReport(rows, max_autograd, max(probed, default=math.nan),
                           autograd_checked=autograd is not None, loss=loss0, fd_noise=noise,
                           median_loss_change=float(np.median(changes)) if changes else math.nan)

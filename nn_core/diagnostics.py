"""Per-layer diagnostics that both twins compute the same way, from NumPy arrays, at diagnostic steps.

Two kinds, both per layer (see Record in trainer.py):
- sizes: the gradient's norm, the weights' norm, and how far the step moved the weights
  (the update-to-weight ratio);
- health: how many hidden units have stopped learning (dead or saturated), and fixed-bin histograms
  of the weights, the gradients and the hidden activations, from which the app draws
  TensorBoard-style bands over the steps.

Shapes: weights W and their gradients dW are (fan_in, fan_out), whatever the twin keeps (the torch
twin hands over transposed views); a hidden layer's activations f(Z) are (B, units) for a batch of B.
"""

import functools
import math

import numpy as np

# ---- dead and saturated units -----------------------------------------------------------------
# A ReLU-family unit is inactive on an example when its input z is at most 0: ReLU outputs 0 there
# and passes no gradient back; leaky ReLU passes only LEAKY_SLOPE (1 %) of it. On the activation
# a = f(z), that is a <= 0 for both (f keeps the sign of z).
INACTIVE_WHEN_AT_MOST_ZERO = ("relu", "leaky_relu")

# A sigmoid or tanh unit is saturated on an example when its slope f'(z) is below 1 % of the
# steepest slope that activation has (sigmoid: 0.25 at z = 0; tanh: 1): backpropagation then
# multiplies the gradient through that unit by less than a hundredth of its best.
SATURATED_SLOPE = 0.01
# f'(z) from a = f(z) (as nn_core.functional computes it), and the largest value f' takes.
SLOPE_FROM_ACTIVATION = {"sigmoid": lambda a: a * (1 - a), "tanh": lambda a: 1 - a * a}
STEEPEST_SLOPE = {"sigmoid": 0.25, "tanh": 1.0}
# "Almost every example": at least this share of the batch. (At batch 64, 95 % lets 3 examples
# off; 99 % would demand all 64.)
ALMOST_EVERY = 0.95


def dead_fraction(activations: np.ndarray, activation: str) -> float | None:
    """Share of the layer's units that are inactive for EVERY example of the batch (activations:
    f(Z) of shape (B, units), before dropout). Inactive: ReLU outputs 0; leaky ReLU's input is
    negative (or 0). No gradient reaches a dead ReLU unit's weights from this batch, so it cannot
    come back by itself; a leaky one still learns, a hundred times slower.

    None for sigmoid and tanh: they have no side where the output is flat and exactly constant, so
    no unit is ever "dead" in this sense; their way of stopping is saturation (saturated_fraction).
    """
    if activation not in INACTIVE_WHEN_AT_MOST_ZERO:
        return None
    never_active = activations.max(axis=0) <= 0             # (units,): even the largest a is <= 0
    return np.count_nonzero(never_active) / never_active.size


def saturated_fraction(activations: np.ndarray, activation: str) -> float | None:
    """Share of sigmoid / tanh units whose slope f'(z) is below SATURATED_SLOPE of the steepest
    for ALMOST_EVERY example of the batch (activations: f(Z), (B, units)).

    None for the ReLU family: for z > 0 their slope is 1 however large z grows, so they never
    saturate; their way of stopping is dying (dead_fraction).
    """
    if activation not in SLOPE_FROM_ACTIVATION:
        return None
    flat = SLOPE_FROM_ACTIVATION[activation](activations) < SATURATED_SLOPE * STEEPEST_SLOPE[activation]
    return float((flat.mean(axis=0) >= ALMOST_EVERY).mean())   # (B, units) -> (units,) -> one share


# ---- histograms ----------------------------------------------------------------------------------
HISTOGRAM_BINS = 30      # equal bins from the smallest to the largest value, per record
# Each histogram counts at most this many of its array's values, the same elements at every step
# (a fixed random sample for the array's shape): enough for the shape of a distribution, and what
# keeps a diagnostic step cheap when the first layer holds 100,352 weights (see bench_health.py).
HISTOGRAM_SAMPLE = 1024
# Histograms are counted at every HISTOGRAM_EVERY-th diagnostic step only (every 20 training steps
# at the default diag_every of 5, about three times an epoch of the shipped sample): they cost more
# than the rest of a diagnostic step and change slowly, and the bands need no more points than that.
HISTOGRAM_EVERY = 4


def histogram_step(step: int, diag_every: int) -> bool:
    """Whether training step `step` (1, 2, ...; a diagnostic step, as nn_core.trainer.train picks
    them: 1, 1 + diag_every, ...) also counts histograms: steps 1, 1 + HISTOGRAM_EVERY * diag_every, ..."""
    return (step - 1) % (HISTOGRAM_EVERY * diag_every) == 0


@functools.lru_cache(maxsize=64)
def _sample_positions(shape: tuple, column_major: bool) -> np.ndarray:
    """Where the sampled elements (i, j) of a 2-D array of this shape lie in its memory, row after
    row (NumPy's order) or column after column (a transposed view, as the torch twin hands over):
    HISTOGRAM_SAMPLE elements drawn once with a fixed seed, or all of them if there are no more.
    Both twins sample the same elements."""
    rows, columns = shape
    flat = np.arange(rows * columns)                       # i * columns + j
    if len(flat) > HISTOGRAM_SAMPLE:
        flat = np.random.default_rng(len(flat)).choice(len(flat), HISTOGRAM_SAMPLE, replace=False)
    if column_major:
        i, j = np.divmod(flat, columns)
        flat = j * rows + i
    return np.sort(flat)                                   # read memory front to back


def _sample(values: np.ndarray) -> np.ndarray:
    """The sampled values of a 2-D array, (HISTOGRAM_SAMPLE,) at most."""
    memory = values.ravel(order="K")                       # a view, in the order the array is stored
    return memory.take(_sample_positions(values.shape, not values.flags.c_contiguous))


def histograms(arrays: list) -> list:
    """One histogram {"lo", "hi", "counts"} per 2-D array: HISTOGRAM_BINS counts of its sampled
    values (HISTOGRAM_SAMPLE at most, all of them in a smaller array) in equal bins from lo, the
    smallest sampled value, to hi, the largest; the last bin includes hi. Non-finite values are
    left out. The arrays' samples are joined end to end and counted in one pass."""
    samples = [_sample(a) for a in arrays]
    sizes = [len(sample) for sample in samples]
    joined = np.concatenate(samples)                                     # (sum of sizes,)
    starts = np.cumsum([0] + sizes[:-1])
    # (arrays,) each; float64, so that a range as narrow as float32's tiniest numbers still divides
    lo = np.minimum.reduceat(joined, starts).astype(np.float64)
    hi = np.maximum.reduceat(joined, starts).astype(np.float64)
    if not (np.isfinite(lo).all() and np.isfinite(hi).all()):           # a diverging step
        return [_finite_histogram(sample) for sample in samples]
    scale = np.divide(HISTOGRAM_BINS, hi - lo, out=np.zeros_like(lo), where=hi > lo)
    bins = ((joined - np.repeat(lo, sizes)) * np.repeat(scale, sizes)).astype(np.intp)  # 0 .. BINS
    np.clip(bins, 0, HISTOGRAM_BINS, out=bins)              # (rounding can overshoot by a hair)
    bins += np.repeat(np.arange(len(arrays)) * (HISTOGRAM_BINS + 1), sizes)            # a row each
    counts = np.bincount(bins, minlength=len(arrays) * (HISTOGRAM_BINS + 1)).reshape(len(arrays), -1)
    counts[:, HISTOGRAM_BINS - 1] += counts[:, HISTOGRAM_BINS]                          # hi itself
    return [{"lo": a, "hi": b, "counts": c}
            for a, b, c in zip(lo.tolist(), hi.tolist(), counts[:, :HISTOGRAM_BINS].tolist())]


def _finite_histogram(sample: np.ndarray) -> dict:
    """The histogram of a sample's finite values; lo = hi = 0 and no counts if none is finite."""
    finite = sample[np.isfinite(sample)]
    if finite.size == 0:
        return {"lo": 0.0, "hi": 0.0, "counts": [0] * HISTOGRAM_BINS}
    return histograms([finite.reshape(1, -1)])[0]


def histogram(values: np.ndarray) -> dict:
    """histograms() of one 2-D array."""
    return histograms([values])[0]


# TensorBoard's distribution bands: percentiles about 0, 1, 1.5 and "all" standard deviations of a
# normal distribution away from the median, so the bands hold 38 %, 68 %, 86 % and 100 % of the values.
BAND_PERCENTILES = (0, 7, 16, 31, 50, 69, 84, 93, 100)


def histogram_percentiles(histograms: list, percentiles=BAND_PERCENTILES) -> np.ndarray:
    """(T, len(percentiles)) values read off T histograms (as histogram() makes them): within a bin,
    values are taken as evenly spread. Percentile 0 is each histogram's lo and 100 its hi."""
    counts = np.array([h["counts"] for h in histograms], dtype=np.float64).reshape(-1, HISTOGRAM_BINS)
    lo = np.array([h["lo"] for h in histograms], dtype=np.float64)             # (T,)
    hi = np.array([h["hi"] for h in histograms], dtype=np.float64)
    width = (hi - lo) / HISTOGRAM_BINS
    cumulative = counts.cumsum(axis=1)                                          # (T, bins)
    rows = np.arange(len(counts))
    out = np.empty((len(counts), len(percentiles)))
    for column, q in enumerate(percentiles):
        target = q / 100 * cumulative[:, -1]                                    # (T,) values below
        bin_ = np.minimum((cumulative < target[:, None]).sum(axis=1), HISTOGRAM_BINS - 1)
        below = np.where(bin_ > 0, cumulative[rows, bin_ - 1], 0.0)
        inside = counts[rows, bin_]
        within = np.divide(target - below, inside, out=np.zeros_like(target), where=inside > 0)
        out[:, column] = lo + (bin_ + within) * width
    out[:, np.asarray(percentiles) == 0] = lo[:, None]
    out[:, np.asarray(percentiles) == 100] = hi[:, None]
    return out


# ---- all of it, at a diagnostic step ---------------------------------------------------------------
def _dot(a, b) -> float:
    """Sum of a * b over all elements, without copying when a and b share a memory layout (the
    torch twin's transposed views are read in their own memory order)."""
    order = "K" if a.strides == b.strides else "C"
    return float(np.dot(a.ravel(order), b.ravel(order)))


def layer_diagnostics(grads_w, grads_b, weights, updates, hidden=None, activation=None,
                      with_histograms=True):
    """Per-layer diagnostics from NumPy arrays (see Record): gradients dW, db, weights W after the
    step, and the step's updates U = W_before - W_after as the optimizer reported them. No copy of
    the weights from before the step is needed: ||W_before||^2 = ||W + U||^2 = ||W||^2 + 2 W.U + ||U||^2.

    hidden: each hidden layer's activations f(Z) for the batch, (B, units), before dropout, and
    activation the name of f; given, the record also gets the network's health (dead and
    saturated shares, and, with_histograms, histograms of W, dW and f(Z))."""
    layers = []
    for gw, gb, W, U in zip(grads_w, grads_b, weights, updates):
        ww, wu, uu = _dot(W, W), _dot(W, U), _dot(U, U)     # W and U first: the step just touched them
        before = math.sqrt(max(ww + 2 * wu + uu, 0.0))
        grad = math.sqrt(_dot(gw, gw) + _dot(gb, gb))
        layers.append((grad, grad / math.sqrt(gw.size + gb.size), math.sqrt(ww),
                       math.sqrt(uu) / max(before, 1e-12)))
    grad, scaled, weight, update = (list(column) for column in zip(*layers))
    sizes = {"grad_norm": grad, "grad_norm_scaled": scaled, "weight_norm": weight, "update_ratio": update}
    if hidden is None:
        return sizes
    return sizes | health(grads_w, weights, hidden, activation, with_histograms)


def health(grads_w, weights, hidden, activation, with_histograms=True) -> dict:
    """dead_fraction and saturated_fraction per hidden layer (None where the activation has no such
    state), and, with_histograms, histograms of W and dW per layer and of f(Z) per hidden layer."""
    def each_layer(share, applies):
        return [share(a, activation) for a in hidden] if activation in applies else None
    shares = {"dead_fraction": each_layer(dead_fraction, INACTIVE_WHEN_AT_MOST_ZERO),
              "saturated_fraction": each_layer(saturated_fraction, SLOPE_FROM_ACTIVATION)}
    if not with_histograms:
        return shares
    counted = histograms([*weights, *grads_w, *hidden])
    n = len(weights)
    return shares | {"weight_hist": counted[:n], "grad_hist": counted[n:2 * n], "activation_hist": counted[2 * n:]}

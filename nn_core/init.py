"""Initial weights, drawn once with NumPy and handed to both twins.

Returns a list of (W, b) pairs, W of shape (fan_in, fan_out), b of shape (fan_out,).
"""

import numpy as np


def he(rng, fan_in, fan_out):
    """He/Kaiming normal: std sqrt(2 / fan_in), keeps ReLU activations' variance steady."""
    return rng.normal(0.0, np.sqrt(2.0 / fan_in), size=(fan_in, fan_out)), np.zeros(fan_out)


def xavier(rng, fan_in, fan_out):
    """Xavier/Glorot uniform: U(-a, a) with a = sqrt(6 / (fan_in + fan_out)), for tanh and sigmoid."""
    a = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-a, a, size=(fan_in, fan_out)), np.zeros(fan_out)


def uniform(rng, fan_in, fan_out):
    """The original from-scratch script's choice: weights and biases uniform in [-0.5, 0.5)."""
    return rng.random((fan_in, fan_out)) - 0.5, rng.random(fan_out) - 0.5


def zeros(rng, fan_in, fan_out):
    """Every weight and bias 0: a lesson in what goes wrong. Without dropout, all units of a layer
    compute the same thing and get the same gradient, so they stay identical; with relu, leaky_relu
    or tanh every hidden output is 0, so only the output layer's biases ever move."""
    return np.zeros((fan_in, fan_out)), np.zeros(fan_out)


INITIALISERS = {"he": he, "xavier": xavier, "uniform": uniform, "zeros": zeros}


def init_params(layer_sizes, scheme="he", seed=0, dtype="float32"):
    """[(W, b), ...] for layer_sizes like (784, 128, 64, 10), reproducible from the seed."""
    rng = np.random.default_rng(seed)
    draw = INITIALISERS[scheme]
    params = []
    for fan_in, fan_out in zip(layer_sizes[:-1], layer_sizes[1:]):
        W, b = draw(rng, fan_in, fan_out)
        params.append((W.astype(dtype), b.astype(dtype)))
    return params


# scheme -> what it draws, in words a learner can check against the code above.
DESCRIPTIONS = {
    "he": "weights from a normal distribution with std √(2 / fan_in) (0.05 for the first layer), biases 0; for ReLU",
    "xavier": "weights uniform in ±√(6 / (fan_in + fan_out)), biases 0; for tanh and sigmoid",
    "uniform": "weights and biases uniform in [-0.5, 0.5): about 6× He's spread in the first layer",
    "zeros": ("every weight and bias 0: the units of a layer get the same gradient and stay identical; "
              "with relu or tanh only the output biases learn"),
}

"""Dropout masks shared by the two twins.

Dropout switches off a random set of hidden units on every training step. If each twin drew its own
random units (NumPy from its generator, PyTorch from torch's), the twins would train different
sub-networks and drift apart by far more than rounding; no float64 could close that gap. So neither
twin draws: each step's masks come from one NumPy generator seeded by (the run's seed, the step
number), and both twins multiply by the very same numbers. The twins may train in separate
processes: seeding by the step, not by a shared object, gives both the same masks anyway.
"""

import numpy as np

DROPOUT_STREAM = 0xD0   # keeps these draws apart from the epoch shuffles, seeded by (seed, epoch)


def dropout_masks(p: float, seed: int, step: int, batch: int, widths, dtype) -> list | None:
    """The inverted-dropout masks of one training step, or None when p is 0.

    One (batch, width) array per hidden layer (widths: the hidden layers' sizes). An entry is 0 for
    a dropped unit and 1/(1-p) for a kept one: scaling the kept units up keeps each unit's expected
    output the same, so nothing needs rescaling at test time ("inverted" dropout, as nn.Dropout).
    """
    if p == 0 or not len(widths):
        return None
    rng = np.random.default_rng([seed, step, DROPOUT_STREAM])
    scale = np.asarray(1 / (1 - p), dtype=dtype)
    return [(rng.random((batch, width)) >= p).astype(dtype) * scale for width in widths]


def step_masks(config, step: int, batch: int):
    """The dropout masks of training step `step` of a run with this TrainConfig (NumPy arrays, the
    same for both twins); None without dropout."""
    return dropout_masks(config.dropout, config.seed, step, batch, config.hidden, config.dtype)

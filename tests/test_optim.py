"""nn_core.optim uses torch.optim's exact formulas: same start + same gradients -> same parameters.

Tolerance: max absolute difference over every parameter entry, <= 1e-6 after 50 steps in float64
(measured: ~4e-15 for the formulas alone, ~6e-15 for the twins, whose gradients also differ by rounding).
"""

import numpy as np
import pytest

from nn_core.config import TrainConfig
from nn_core.data import load_shipped_sample, make_split
from nn_core.optim import OPTIMIZERS
from nn_core.trainer import epoch_order
from nn_core.twins import initial_params, make_twin

torch = pytest.importorskip("torch")
from nn_core.torch_mlp import TORCH_OPTIMIZERS  # noqa: E402

NAMES = ("sgd", "momentum", "nesterov", "rmsprop", "adam")
LR = {"sgd": 0.1, "momentum": 0.05, "nesterov": 0.05, "rmsprop": 1e-3, "adam": 1e-3}
STEPS = 50
TOL = 1e-6


def test_the_two_tables_have_the_same_optimizers():
    assert set(OPTIMIZERS) == set(TORCH_OPTIMIZERS) == set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_formulas_match_torch_optim_on_the_same_gradients(name):
    """Only the optimiser: both are fed the very same 50 gradient arrays."""
    rng = np.random.default_rng(0)
    shapes = [(20, 7), (7,), (7, 3), (3,)]
    params = [rng.normal(size=s) for s in shapes]
    tensors = [torch.tensor(p, requires_grad=True) for p in params]
    ours, theirs = OPTIMIZERS[name](LR[name]), TORCH_OPTIMIZERS[name](tensors, LR[name])
    for step in range(STEPS):
        # gradients of varied scale, some entries exactly 0 (as for dead ReLU units)
        grads = [rng.normal(scale=10.0 ** rng.integers(-4, 2), size=s) * (rng.random(s) > 0.1) for s in shapes]
        ours.step(params, grads)
        for t, g in zip(tensors, grads):
            t.grad = torch.from_numpy(g.copy())
        theirs.step()
    diff = max(np.abs(p - t.detach().numpy()).max() for p, t in zip(params, tensors))
    assert diff <= TOL
    assert diff < 1e-12   # in fact: the same formula in the same order, up to last-bit rounding


@pytest.fixture(scope="module")
def split64():
    return make_split(load_shipped_sample(), dtype=np.float64)


@pytest.mark.parametrize("l2", [0.0, 1e-3])
@pytest.mark.parametrize("name", NAMES)
def test_numpy_twin_matches_torch_twin_after_50_steps(name, l2, split64):
    """The real twins, from the same initial parameters, on the same 50 mini-batches."""
    config = TrainConfig(hidden=(16, 8), optimizer=name, lr=LR[name], l2=l2, batch_size=32,
                         dtype="float64", seed=1).validated()
    params0 = initial_params(config)
    order = epoch_order(config.seed, 1, len(split64.x_train))[: STEPS * config.batch_size]
    twins = {impl: make_twin(impl, config, params0, device="cpu") for impl in ("numpy", "torch")}
    losses = {}
    for impl, twin in twins.items():
        batches = twin.batches(split64.x_train, split64.y_train, order, config.batch_size)
        losses[impl] = [twin.train_step(xb, yb)[0] for xb, yb in batches]
        assert len(losses[impl]) == STEPS
    final = {impl: twin.params() for impl, twin in twins.items()}
    diff = max(np.abs(a - b).max()
               for (Wn, bn), (Wt, bt) in zip(final["numpy"], final["torch"]) for a, b in ((Wn, Wt), (bn, bt)))
    assert diff <= TOL
    moved = max(np.abs(W - W0).max() for (W, _), (W0, _) in zip(final["numpy"], params0))
    assert moved > 1e3 * TOL   # the parameters did change: the agreement is not trivial
    np.testing.assert_allclose(losses["numpy"], losses["torch"], rtol=1e-9)
    assert losses["numpy"][-1] < losses["numpy"][0]   # and it learned
    assert all(p.dtype == np.float64 for pair in final["numpy"] for p in pair)

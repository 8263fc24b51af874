"""Where the NumPy twin's training step spends its time, stage by stage and op by op.

784-128-64-10, ReLU, SGD lr 0.1, float32, one BLAS thread (as in a trainer process), seeded random
pixels and labels (speed does not depend on their values), 3,200 training rows, batch 64 and 256.

Part 1, the step as it runs, over real epochs (every step a new batch): microseconds per step of
each stage of the twin's train_step, of nn_core.trainer.train's whole loop (its validation passes
left out), and of the hand-tuned reference (benchmarks/reference_mlp.py) for scale.
Part 2, the same staged loop with one stage done another way: fresh arrays (an epoch's ordered
copy, the gradients, the updates) against the twin's reused ones, and the diagnostics from weight
copies against the optimizer's own updates.
Part 3, single small operations timed alone: the fixed cost per NumPy call that dominates at small
batches. Each figure is the best of `--rounds` rounds, taken in turns, so load on the machine
inflates it least.

    .venv/bin/python benchmarks/profile_numpy_step.py [--batch-sizes 64,256] [--rounds 5]
"""
import argparse
import math
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]  # run from anywhere

import numpy as np  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from nn_core.bench import time_training_loop  # noqa: E402
from nn_core.config import TrainConfig  # noqa: E402
from nn_core.data import Split  # noqa: E402
from nn_core.functional import cross_entropy_and_grad, log_softmax  # noqa: E402
from nn_core.optim import apply_updates  # noqa: E402
from nn_core.diagnostics import layer_diagnostics  # noqa: E402
from nn_core.trainer import Record, epoch_order  # noqa: E402
from nn_core.twins import initial_params, make_twin  # noqa: E402
from reference_mlp import ReferenceMLP  # noqa: E402

ROWS, EPOCHS, DIAG_EVERY = 3200, 2, 5
STAGES = ("batch", "forward", "loss and its gradient", "backward", "optimizer", "accuracy", "diagnostics")
# The stages below are train_step's (nn_core/trainer.py, NumpyTwin), timed one by one.


def old_diagnostics(model, grads, before):
    """How the twin measured the update ratio before: copies of the weights, and their difference."""
    def norm(a):
        return float(np.sqrt(np.dot(a.ravel(), a.ravel())))
    return [norm(after - w0) / norm(w0) for w0, after in zip(before, model.weights)]


def fresh_copy_batches(x, y, order, batch_size):
    """The twin's batches, from a new array x[order] every epoch instead of its reused one."""
    x_ordered, y_ordered = x[order], y[order]
    for start in range(0, len(order), batch_size):
        yield x_ordered[start:start + batch_size], y_ordered[start:start + batch_size]


def staged_epochs(config, x, y, fresh_copy=False, fresh_grads=False, fresh_updates=False,
                  weight_copies=False):
    """Microseconds per step of each stage of the twin's step, over EPOCHS epochs of x, y."""
    twin = make_twin("numpy", config, initial_params(config))
    model, optimizer, lr = twin.model, twin.optimizer, config.lr
    spent = dict.fromkeys(STAGES, 0.0)
    steps = 0
    for epoch in range(1, EPOCHS + 1):
        batches = (fresh_copy_batches if fresh_copy else twin.batches)(
            x, y, epoch_order(0, epoch, len(x)), config.batch_size)
        while True:
            t = [time.perf_counter()]
            try:
                xb, yb = next(batches)
            except StopIteration:
                break
            t.append(time.perf_counter())
            logits, cache = model.forward(xb)
            t.append(time.perf_counter())
            loss, dZ = cross_entropy_and_grad(logits, yb)
            t.append(time.perf_counter())
            grads = model.backprop(dZ, cache, out=None if fresh_grads else twin.grads)
            t.append(time.perf_counter())
            before = [W.copy() for W in model.weights] if weight_copies and steps % DIAG_EVERY == 0 else None
            if fresh_updates:
                updates = apply_updates(model.parameters, [lr * g for g in grads])
            else:
                updates = optimizer.step(model.parameters, grads)
            t.append(time.perf_counter())
            int(np.count_nonzero(logits.argmax(axis=1) == yb))
            t.append(time.perf_counter())
            if before is not None:
                old_diagnostics(model, grads, before)
            elif steps % DIAG_EVERY == 0:
                layer_diagnostics(grads[0::2], grads[1::2], model.weights, updates[0::2])
            t.append(time.perf_counter())
            for stage, start, end in zip(STAGES, t, t[1:]):
                spent[stage] += end - start
            steps += 1
    return {stage: seconds / steps * 1e6 for stage, seconds in spent.items()}


def loop_us(config, split):
    """Microseconds per step of trainer.train with the NumPy twin, validation passes not counted."""
    timing = time_training_loop(make_twin("numpy", config, initial_params(config)), split, config)
    return timing["seconds"] / timing["steps"] * 1e6


def reference_us(config, x, y):
    """Microseconds per step of the hand-tuned reference, its per-epoch copy included."""
    reference = ReferenceMLP(initial_params(config), config.lr, config.batch_size)
    t0 = time.perf_counter()
    reference.train(x, y, EPOCHS, lambda epoch: epoch_order(0, epoch, len(x)))
    return (time.perf_counter() - t0) / (EPOCHS * math.ceil(len(x) / config.batch_size)) * 1e6


def profile_steps(batch_size, x, y, rounds):
    config = TrainConfig(optimizer="sgd", lr=0.1, batch_size=batch_size, epochs=EPOCHS,
                         diag_every=DIAG_EVERY).validated()
    split = Split(x, y, x[:500], y[:500])
    variants = {
        "the twin as it is": {},
        "a fresh ordered copy each epoch": {"fresh_copy": True},
        "fresh gradient arrays": {"fresh_grads": True},
        "fresh update arrays": {"fresh_updates": True},
        "diagnostics from weight copies": {"weight_copies": True},
    }
    best = {name: dict.fromkeys(STAGES, math.inf) for name in variants}
    loop = reference = math.inf
    for _ in range(rounds):
        for name, options in variants.items():
            for stage, us in staged_epochs(config, x, y, **options).items():
                best[name][stage] = min(best[name][stage], us)
        loop = min(loop, loop_us(config, split))
        reference = min(reference, reference_us(config, x, y))
    mine = best["the twin as it is"]
    print(f"\n== batch {batch_size}: part 1, microseconds per step (best of {rounds} rounds)")
    for stage in STAGES:
        note = f" (every {DIAG_EVERY}th step, spread)" if stage == "diagnostics" else ""
        print(f"  {stage + note:<44} {mine[stage]:8.1f}")
    print(f"  {'sum of the stages':<44} {sum(mine.values()):8.1f}")
    print(f"  {'trainer.train, whole loop':<44} {loop:8.1f}")
    print(f"  {'reference_mlp (hand-tuned), whole step':<44} {reference:8.1f}")
    print(f"== batch {batch_size}: part 2, one stage done another way (microseconds per step)")
    for name, stage in (("a fresh ordered copy each epoch", "batch"), ("fresh gradient arrays", "backward"),
                        ("fresh update arrays", "optimizer"),
                        ("diagnostics from weight copies", "diagnostics")):
        print(f"  {stage:<12} twin {mine[stage]:8.1f}   with {name:<31} {best[name][stage]:8.1f}")


def profile_ops(batch_size):
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((batch_size, 10)).astype(np.float32)
    labels = rng.integers(0, 10, batch_size)
    Z = rng.standard_normal((batch_size, 128)).astype(np.float32)
    record_fields = dict(impl="numpy", step=1, epoch=1, samples_seen=64, loss=2.3, train_acc=0.1,
                         samples_per_s=1e5, step_time=1e-3, wall_time=1.0)

    def warnings_off():
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            pass
    ops = [("log_softmax (B, 10)", lambda: log_softmax(logits)),
           ("cross_entropy_and_grad (B, 10)", lambda: cross_entropy_and_grad(logits, labels)),
           ("row max (B, 10), axis 1", lambda: logits.max(axis=1, keepdims=True)),
           ("ReLU np.maximum(Z, 0), (B, 128)", lambda: np.maximum(Z, 0)),
           ("column sum (db), (B, 128)", lambda: Z.sum(axis=0)),
           ("np.errstate on and off", warnings_off),
           ("a Record", lambda: Record(**record_fields))]
    print(f"== batch {batch_size}: part 3, single operations (microseconds per call)")
    for name, function in ops:
        best = math.inf
        for _ in range(5):
            t0 = time.perf_counter()
            for _ in range(500):
                function()
            best = min(best, (time.perf_counter() - t0) / 500)
        print(f"  {name:<44} {best * 1e6:8.1f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-sizes", default="64,256")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    x, y = rng.random((ROWS, 784), dtype=np.float32), rng.integers(0, 10, ROWS)
    with threadpool_limits(1, user_api="blas"):
        for batch_size in map(int, args.batch_sizes.split(",")):
            profile_steps(batch_size, x, y, args.rounds)
            profile_ops(batch_size)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The learning-rate finder (Leslie Smith's range test, as fastai's lr_find does it).

From fresh weights, one mini-batch step per probe, the learning rate rises exponentially from
START_LR to END_LR. The loss is noisy from batch to batch, so it is smoothed with an exponential
moving average (bias-corrected, like Adam's moments). The test stops once the smoothed loss passes
STOP_FACTOR times its lowest value (or becomes NaN): from there on the steps only blow up.
The suggestion is a tenth of the rate where the smoothed loss is lowest (fastai's `minimum/10`);
SUGGESTIONS holds the other rules benchmarks/bench_lr_find.py compares it with: on the shipped
sample it trains the default network better than the steepest fall at seeds 0, 1 and 2.
Works for either twin (twins.make_twin): each twin's set_lr(lr) changes its optimizer's rate.
"""

import math
from dataclasses import asdict, dataclass

import numpy as np

from .config import TrainConfig
from .trainer import epoch_order
from .twins import initial_params, make_twin

START_LR = 1e-6
END_LR = 10.0
PROBE_STEPS = 200      # steps from START_LR to END_LR: about 1.5 epochs of the shipped sample at batch 64
SMOOTHING = 0.95       # the moving average's beta: each probe's loss weighs 5% (it lags ~20 probes, 0.7 decade)
STOP_FACTOR = 4.0
SKIP_START = 10        # the first smoothed values lean on few losses: no suggestion among them

@dataclass
class Probe:
    step: int
    lr: float
    loss: float         # this mini-batch's loss (NaN once the weights blew up)
    smoothed: float     # the bias-corrected moving average of the losses so far

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Finding:
    impl: str
    probes: list            # [Probe, ...] in order
    suggested_lr: float | None
    stopped_early: bool     # True if the loss blew up before END_LR was reached
    message: str            # one sentence: where it stopped and what it suggests


def lr_schedule(steps: int = PROBE_STEPS, start: float = START_LR, end: float = END_LR) -> np.ndarray:
    """steps learning rates from start to end, each the last times the same factor."""
    return np.geomspace(start, end, steps)


def smoothed_losses(losses, beta: float = SMOOTHING) -> np.ndarray:
    """avg_t = beta avg_(t-1) + (1 - beta) loss_t, divided by (1 - beta^t) so that the early
    averages are not pulled towards the 0 the average starts from."""
    avg, out = 0.0, []
    for t, loss in enumerate(losses, start=1):
        avg = beta * avg + (1 - beta) * loss
        out.append(avg / (1 - beta ** t))
    return np.array(out)


def _falling_part(lrs, smoothed, skip_start: int):
    """(lrs, smoothed) from probe skip_start (fewer if the curve is short) up to the lowest smoothed
    loss: beyond it the loss rises. None if that leaves fewer than 3 probes (the loss never fell)."""
    lrs, smoothed = np.asarray(lrs, dtype=np.float64), np.asarray(smoothed, dtype=np.float64)
    lowest = int(np.nanargmin(smoothed)) if np.isfinite(smoothed).any() else 0
    first = min(skip_start, max(lowest - 2, 0))
    if lowest - first < 2:
        return None
    return lrs[first:lowest + 1], smoothed[first:lowest + 1]


def steepest_fall(lrs, smoothed, skip_start: int = SKIP_START) -> float | None:
    """The lr where d(smoothed loss) / d(log10 lr) is most negative. None if the loss never fell."""
    part = _falling_part(lrs, smoothed, skip_start)
    if part is None:
        return None
    lrs, smoothed = part
    slopes = np.gradient(smoothed, np.log10(lrs))
    return float(lrs[int(np.argmin(slopes))]) if (slopes < 0).any() else None


def minimum_over_ten(lrs, smoothed, skip_start: int = SKIP_START) -> float | None:
    """A tenth of the lr where the smoothed loss is lowest. None if the loss never fell."""
    part = _falling_part(lrs, smoothed, skip_start)
    return None if part is None else float(part[0][-1] / 10)


def valley(lrs, smoothed, skip_start: int = SKIP_START) -> float | None:
    """The lr halfway (in probes, so in log lr) along the longest valley: the longest run of probes,
    not necessarily neighbours, whose smoothed losses each fall below the one before (after fastai's
    `valley`, which takes the run's start to be its end minus its length, so a little later when the
    run steps over probes). None if the loss never fell."""
    part = _falling_part(lrs, smoothed, skip_start)
    if part is None:
        return None
    lrs, smoothed = part
    length = np.ones(len(smoothed), dtype=int)        # length[i]: the longest falling run ending at probe i
    before = np.full(len(smoothed), -1)                # before[i]: the probe before i in that run
    for i in range(1, len(smoothed)):
        higher = np.flatnonzero(smoothed[:i] > smoothed[i])
        if len(higher):
            j = higher[np.argmax(length[higher])]
            length[i], before[i] = length[j] + 1, j
    end = start = int(np.argmax(length))
    while before[start] >= 0:
        start = before[start]
    return float(lrs[(start + end) // 2])


# Each rule, keyed by name: the function that picks a rate from the probes, and the sentence that
# explains it to a learner.
SUGGESTIONS = {
    "steepest": (steepest_fall,
                 "The suggestion is the learning rate where the smoothed loss falls fastest (the steepest "
                 "downward slope against log learning rate): fast enough to learn quickly, and below the "
                 "rates where the loss turns back up."),
    "minimum/10": (minimum_over_ten,
                   "The suggestion is a tenth of the learning rate where the smoothed loss is lowest: one "
                   "decade below the rate where the loss turns back up."),
    "valley": (valley,
               "The suggestion is the learning rate halfway along the longest falling run of probes, each "
               "with a lower smoothed loss than the one before, stepping over any that are not lower "
               "(fastai's valley rule)."),
}
DEFAULT_SUGGESTION = "minimum/10"
RULE = SUGGESTIONS[DEFAULT_SUGGESTION][1]


def _batches(twin, split, config: TrainConfig):
    """Mini-batches in the training loop's order (epoch 1, 2, ...), as long as they are asked for."""
    n = len(split.y_train)
    batch_size = config.batch_size or n
    epoch = 1
    while True:
        yield from twin.batches(split.x_train, split.y_train, epoch_order(config.seed, epoch, n), batch_size)
        epoch += 1


def find_lr(config: TrainConfig, split, impl: str = "numpy", steps: int = PROBE_STEPS,
            start: float = START_LR, end: float = END_LR, stop_factor: float = STOP_FACTOR,
            suggestion: str = DEFAULT_SUGGESTION) -> Finding:
    """Run the range test on config's network (its own initial weights, its optimizer) and split;
    suggestion names the rule in SUGGESTIONS."""
    twin = make_twin(impl, config, initial_params(config))
    probes, losses, lowest = [], [], math.inf
    stopped_early = False
    for step, (lr, (xb, yb)) in enumerate(zip(lr_schedule(steps, start, end), _batches(twin, split, config)),
                                          start=1):
        twin.set_lr(float(lr))
        loss = twin.train_step(xb, yb)[0]
        blew_up = not math.isfinite(loss)
        losses.append(loss if not blew_up else math.inf)
        smoothed = float(smoothed_losses(losses)[-1])
        probes.append(Probe(step, float(lr), float(loss), smoothed))
        lowest = min(lowest, smoothed)
        if blew_up or smoothed > stop_factor * lowest:
            stopped_early = True
            break
    suggested_lr = suggest(probes, suggestion)
    return Finding(impl, probes, suggested_lr, stopped_early, _message(probes, suggested_lr, stopped_early,
                                                                        stop_factor))


def suggest(probes, rule: str = DEFAULT_SUGGESTION) -> float | None:
    """The rate that SUGGESTIONS[rule] picks from the probes."""
    return SUGGESTIONS[rule][0]([p.lr for p in probes], [p.smoothed for p in probes])


def _message(probes, suggestion, stopped_early, stop_factor) -> str:
    last = probes[-1]
    if stopped_early:
        where = (f"stopped at lr {last.lr:.3g} (step {last.step}), where the smoothed loss passed "
                 f"{stop_factor:g}x its lowest value")
    else:
        where = (f"reached lr {last.lr:.3g} after {last.step} steps without the smoothed loss passing "
                 f"{stop_factor:g}x its lowest value")
    if suggestion is None:
        return f"The test {where}; the loss never fell, so there is no suggestion: check the data and the network."
    return f"The test {where}; suggested learning rate: {suggestion:.3g}."

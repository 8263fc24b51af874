"""The host's caps on one training run, read from environment variables.

A laptop user can leave them alone; a teacher serving a class (or the Community Cloud demo) can
tighten them. `NN_PROFILE=cloud` switches on a small, safe profile.
"""

import os
from dataclasses import dataclass, field, fields

from .errors import ConfigError
from .threads import machine_cores


@dataclass(frozen=True)
class Limits:
    max_params: int = 2_000_000     # weights + biases of one network
    max_width: int = 4096           # units in one hidden layer
    max_layers: int = 8             # hidden layers
    max_epochs: int = 200
    max_seconds: float = 600.0      # wall time of one run
    max_rows: int = 60_000          # rows of an uploaded / loaded CSV
    max_concurrent_runs: int = 32   # runs training at once, sharing the trainers; more wait in a queue
    workers: int = field(default_factory=machine_cores)   # trainer processes, one per training twin
    keep_days: float = 30.0         # days the run store keeps a finished run (and an unused upload)
    keep_runs: int = 50             # finished runs the run store keeps per student, the newest
    orphan_seconds: float = 300.0   # a run with no page of its student open stops after this long

    # Environment variable for each field, e.g. NN_MAX_PARAMS=500000.
    @staticmethod
    def env_name(field_name: str) -> str:
        return "NN_" + field_name.upper()


CLOUD_PROFILE = Limits(max_params=300_000, max_width=512, max_layers=4, max_epochs=30,
                       max_seconds=120.0, max_rows=10_000, max_concurrent_runs=4, workers=2,
                       keep_days=7.0, keep_runs=20, orphan_seconds=120.0)


def limits_from_env(env=None) -> Limits:
    """Limits for this process: the profile (NN_PROFILE=cloud or default), then NN_MAX_* overrides."""
    env = os.environ if env is None else env
    base = CLOUD_PROFILE if env.get("NN_PROFILE", "").strip().lower() == "cloud" else Limits()
    overrides = {}
    for f in fields(Limits):
        raw = env.get(Limits.env_name(f.name))
        if raw is None or raw.strip() == "":
            continue
        kind = type(getattr(base, f.name))
        try:
            value = kind(float(raw)) if kind is int else kind(raw)
        except ValueError:
            raise ConfigError(f"{Limits.env_name(f.name)}={raw!r} is not a number; "
                              "set it to a positive number or unset it.") from None
        if value <= 0:
            raise ConfigError(f"{Limits.env_name(f.name)} must be positive, got {raw}.")
        overrides[f.name] = value
    return Limits(**{**base.__dict__, **overrides})

"""How many CPU threads the maths may use, for the whole process.

NumPy's BLAS and torch each start a thread per core by default. On a server where many runs train
at once (a class of thirty), those pools fight over the same cores and everything slows down many
times over; small networks gain little from extra threads anyway. So a server caps both (NN_THREADS,
default 1) and runs several trainings side by side instead.
"""

import os
import sys


def configured_threads(env=None) -> int:
    env = os.environ if env is None else env
    try:
        return max(1, int(env.get("NN_THREADS", "1")))
    except ValueError:
        return 1


def limit_threads(n: int) -> None:
    """Cap BLAS (via threadpoolctl) and, if it is loaded, torch's intra-op pool to n threads."""
    try:
        from threadpoolctl import threadpool_limits
        threadpool_limits(n, user_api="blas")
    except ImportError:  # without threadpoolctl, OPENBLAS_NUM_THREADS still works at start-up
        pass
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(n)


def thread_counts() -> dict:
    """{'blas': n, 'torch': n}: the threads the maths really uses now, read from the thread pools
    themselves (threadpoolctl for NumPy's BLAS, torch.get_num_threads()), not from environment
    variables that limit_threads may since have overridden. None where it cannot be known (no
    threadpoolctl, or torch not installed)."""
    counts = {"blas": None, "torch": None}
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        pass
    else:
        blas = [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]
        counts["blas"] = max(blas) if blas else None
    try:
        import torch
    except ImportError:
        pass
    else:
        counts["torch"] = torch.get_num_threads()
    return counts

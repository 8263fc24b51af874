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


def machine_cores() -> int:
    """The CPU cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def limit_threads(n: int) -> None:
    """Cap BLAS (via threadpoolctl) and, if it is loaded, torch's intra-op pool to n threads."""
    try:
        from threadpoolctl import threadpool_limits
        threadpool_limits(n, user_api="blas")
    except ImportError:  # without threadpoolctl, OPENBLAS_NUM_THREADS still works at start-up
        pass
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(n)


def blas_threads() -> int | None:
    """The threads NumPy's BLAS uses now, read from the library itself (None if unknown)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return None
    blas = [pool["num_threads"] for pool in threadpool_info() if pool.get("user_api") == "blas"]
    return max(blas) if blas else None


def thread_report() -> dict:
    """The thread pools of this process as they are now: {"blas": n or None, "torch": n or None,
    "cuda": bool}. Read from the libraries themselves, not from environment variables."""
    report = {"blas": blas_threads(), "torch": None, "cuda": False}
    try:
        import torch
    except ImportError:
        return report
    report["torch"] = torch.get_num_threads()
    report["cuda"] = torch.cuda.is_available()
    return report

"""PyTorch is optional: the NumPy twin trains without it. How to tell whether it is here, and how to
get it (one install hint, used by the CLI, the workers, the model reader and the app)."""

import importlib.util

INSTALL_TORCH = "pip install torch==2.13.0"


def torch_available() -> bool:
    """True if torch can be imported (checked without importing it)."""
    try:
        return importlib.util.find_spec("torch") is not None
    except (ImportError, ValueError):     # a broken or half-removed install
        return False

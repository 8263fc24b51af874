"""The two twins by name: build either one from the same starting weights."""

from .config import TrainConfig
from .init import init_params
from .numpy_twin import NumpyTwin

IMPLS = ("numpy", "torch")
TWIN_NAMES = {"numpy": "NumPy", "torch": "PyTorch"}    # how every page and message names a twin


def make_twin(impl: str, config: TrainConfig, params, device=None):
    """The twin for impl ('numpy' or 'torch'); torch is imported only here, only when asked for."""
    if impl == "numpy":
        return NumpyTwin(config, params)
    from .torch_twin import TorchTwin
    return TorchTwin(config, params, device=device)


def initial_params(config: TrainConfig):
    """Drawn once from the seed; both twins start from these exact numbers."""
    return init_params(config.layer_sizes, config.init, config.seed, config.dtype)

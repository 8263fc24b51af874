"""The PyTorch twin: the same network as NumpyMLP, built from the same config and initial weights.

It looks like the PyTorch a learner meets elsewhere: an nn.Module, a DataLoader, CrossEntropyLoss,
torch.optim. This module imports torch at the top, so import it only when the torch twin is wanted.
"""

import numpy as np
import torch
from torch import nn

from .functional import LEAKY_SLOPE
from .optim import MOMENTUM

ACTIVATION_MODULES = {
    "relu": nn.ReLU,
    "leaky_relu": lambda: nn.LeakyReLU(LEAKY_SLOPE),
    "sigmoid": nn.Sigmoid,
    "tanh": nn.Tanh,
}

# name -> factory(parameters, lr); the same formulas and defaults as nn_core.optim.OPTIMIZERS.
TORCH_OPTIMIZERS = {
    "sgd": lambda params, lr: torch.optim.SGD(params, lr=lr),
    "momentum": lambda params, lr: torch.optim.SGD(params, lr=lr, momentum=MOMENTUM),
    "nesterov": lambda params, lr: torch.optim.SGD(params, lr=lr, momentum=MOMENTUM, nesterov=True),
    "rmsprop": lambda params, lr: torch.optim.RMSprop(params, lr=lr),
    "adam": lambda params, lr: torch.optim.Adam(params, lr=lr),
}

TORCH_DTYPES = {"float32": torch.float32, "float64": torch.float64}


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


class TorchMLP(nn.Module):
    """Linear -> activation (-> dropout mask) for each hidden layer, then a Linear to 10 logits.

    Dropout is not an nn.Dropout layer here, although that is what one would write elsewhere:
    nn.Dropout draws its masks from torch's own random generator, so the NumPy twin (which draws
    from NumPy's) would drop other units and the twins would train different networks. Instead
    forward() takes the step's masks as tensors, the very numbers the NumPy twin multiplies by
    (nn_core.dropout), and multiplies by them just as nn.Dropout would: 0 or 1/(1-p).
    """

    def __init__(self, layer_sizes, activation="relu"):
        super().__init__()
        self.linears = nn.ModuleList(nn.Linear(a, b) for a, b in zip(layer_sizes[:-1], layer_sizes[1:]))
        self.act = ACTIVATION_MODULES[activation]()

    def forward(self, x, masks=None):          # x: (B, 784) -> logits (B, 10)
        """masks: None (no dropout) or one (B, units) tensor per hidden layer."""
        for layer, linear in enumerate(self.linears[:-1]):
            x = self.act(linear(x))
            if masks is not None:
                x = x * masks[layer]
        return self.linears[-1](x)

    @classmethod
    def from_params(cls, params, activation="relu", dtype="float32", device=None):
        """Build the twin from [(W, b), ...] NumPy arrays, W of shape (fan_in, fan_out)."""
        sizes = [params[0][0].shape[0]] + [W.shape[1] for W, _ in params]
        model = cls(sizes, activation).to(dtype=TORCH_DTYPES[dtype])
        model.load_params(params)
        return model.to(device or default_device())

    def load_params(self, params):
        with torch.no_grad():
            for linear, (W, b) in zip(self.linears, params):
                # nn.Linear stores weight as (fan_out, fan_in): the transpose of ours.
                # torch.tensor copies, so read-only arrays (a run's shared snapshot) are fine.
                linear.weight.copy_(torch.tensor(np.asarray(W).T))
                linear.bias.copy_(torch.tensor(np.asarray(b)))

    def params(self):
        """[(W, b), ...] as NumPy arrays in NumpyMLP's layout (W is (fan_in, fan_out))."""
        return [(lin.weight.detach().cpu().numpy().T.copy(), lin.bias.detach().cpu().numpy().copy())
                for lin in self.linears]

    def weight_matrices(self):
        return [lin.weight for lin in self.linears]

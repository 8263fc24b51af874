"""The PyTorch twin's training adapter: idiomatic PyTorch (DataLoader, CrossEntropyLoss, torch.optim),
fed the same mini-batches in the same order as the NumPy twin. See trainer.py for the interface."""

import warnings

import torch
from torch.utils.data import DataLoader, TensorDataset

from .torch_mlp import TORCH_DTYPES, TORCH_OPTIMIZERS, TorchMLP, default_device
from .diagnostics import layer_diagnostics
from .dropout import step_masks


class TorchTwin:
    impl = "torch"

    def __init__(self, config, params, device=None):
        self.config = config
        self.device = torch.device(device) if device else default_device()
        self.dtype = TORCH_DTYPES[config.dtype]
        self.model = TorchMLP.from_params(params, config.activation, config.dtype, self.device)
        self.optimizer = TORCH_OPTIMIZERS[config.optimizer](self.model.parameters(), config.lr)
        self.loss_fn = torch.nn.CrossEntropyLoss()
        self._data = {}  # id of a NumPy array -> the same data as a tensor on the device
        self.steps = 0   # training steps taken: picks each step's shared dropout masks

    def _tensor(self, array):
        key = id(array)
        if key not in self._data:
            # The app shares one read-only copy of the dataset between sessions; the tensor views
            # the same memory (no copy on the CPU) and training only ever reads it.
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
                tensor = torch.as_tensor(array)
            self._data[key] = (array, tensor.to(self.device, self.dtype if array.dtype.kind == "f" else None))
        return self._data[key][1]

    def batches(self, x, y, order, batch_size):
        # The shared permutation, cut into batches of row indices, is the DataLoader's sampler;
        # batch_size=None because each "index" it hands the dataset is already a whole batch.
        index_batches = list(torch.as_tensor(order).split(batch_size))
        dataset = TensorDataset(self._tensor(x), self._tensor(y))
        return iter(DataLoader(dataset, sampler=index_batches, batch_size=None))

    def train_step(self, xb, yb, diagnose=False):
        model = self.model
        model.train()
        weights = model.weight_matrices()
        before = [w.detach().clone() for w in weights] if diagnose else None
        self.optimizer.zero_grad()
        self.steps += 1
        masks = step_masks(self.config, self.steps, len(yb))     # the NumPy twin's very numbers
        if masks is not None:
            masks = [torch.from_numpy(m).to(self.device) for m in masks]
        hidden = []             # at diagnostic steps: each hidden layer's f(Z) (B, units), before dropout
        hook = model.act.register_forward_hook(lambda act, inputs, a: hidden.append(a.detach())) \
            if diagnose else None
        logits = model(xb, masks)                                # (B, 10)
        if hook is not None:
            hook.remove()
        loss = self.loss_fn(logits, yb)
        objective = loss
        if self.config.l2:
            # The same L2 penalty as the NumPy twin: (l2 / 2) * sum ||W||^2 over weight matrices.
            objective = loss + 0.5 * self.config.l2 * sum((w * w).sum() for w in weights)
        objective.backward()
        self.optimizer.step()
        n_correct = (logits.argmax(dim=1) == yb).sum()
        loss_value, correct_value = torch.stack([loss.detach(), n_correct.to(loss.dtype)]).tolist()
        diag = None
        if diagnose:
            def cpu(tensors):
                return [t.detach().cpu().numpy() for t in tensors]
            # nn.Linear keeps W as (fan_out, fan_in): .T gives the NumPy twin's layout (a view, no copy).
            diag = layer_diagnostics(cpu(l.weight.grad.T for l in model.linears),
                                     cpu(l.bias.grad for l in model.linears), cpu(w.T for w in weights),
                                     cpu((w0 - w.detach()).T for w0, w in zip(before, weights)),
                                     cpu(hidden), self.config.activation)
        return loss_value, int(correct_value), diag

    @torch.no_grad()
    def evaluate(self, x, y):
        self.model.eval()
        logits = self.model(self._tensor(x))
        labels = self._tensor(y)
        loss = self.loss_fn(logits, labels)
        accuracy = (logits.argmax(dim=1) == labels).to(loss.dtype).mean()
        return tuple(torch.stack([loss, accuracy]).tolist())

    @torch.no_grad()
    def predict_proba(self, x):
        self.model.eval()
        x = torch.as_tensor(x).to(self.device, self.dtype)
        return torch.softmax(self.model(x), dim=1).cpu().numpy()

    def params(self):
        return self.model.params()

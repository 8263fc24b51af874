"""The PyTorch twin's training adapter: idiomatic PyTorch (DataLoader, CrossEntropyLoss, torch.optim),
fed the same mini-batches in the same order as the NumPy twin. See trainer.py for the interface."""

import warnings

import torch
from torch.utils.data import DataLoader, TensorDataset

from .torch_mlp import TORCH_DTYPES, TORCH_OPTIMIZERS, TorchMLP, default_device
from .diagnostics import histogram_step, layer_diagnostics
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
        self._before = None   # diagnostic steps: the weights from before the step (see _copy_weights)

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
        before = self._copy_weights(weights) if diagnose else None
        self.optimizer.zero_grad()
        self.steps += 1
        masks = step_masks(self.config, self.steps, len(yb))     # the NumPy twin's very numbers
        if masks is not None:
            masks = [torch.from_numpy(m).to(self.device) for m in masks]
        hidden = []             # at diagnostic steps: each hidden layer's f(Z) (B, units), before dropout
        hook = model.act.register_forward_hook(lambda act, inputs, a: hidden.append(a)) if diagnose else None
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
        diag = self._diagnostics(before, hidden) if diagnose else None
        return loss_value, int(correct_value), diag

    def set_lr(self, lr):
        """The learning rate of the next steps (the learning-rate finder raises it step by step)."""
        for group in self.optimizer.param_groups:
            group["lr"] = lr

    def _copy_weights(self, weights) -> list:
        """The weights as they are now, copied into buffers kept for the next diagnostic step
        (allocating ~0.5 MB per step is slower than copying into memory already there)."""
        if self._before is None:
            self._before = [torch.empty_like(w, requires_grad=False) for w in weights]
        for buffer, w in zip(self._before, weights):
            buffer.copy_(w.detach())
        return self._before

    def _diagnostics(self, before, hidden) -> dict:
        """layer_diagnostics from NumPy views of this step's tensors. before: copies of the weights
        from before the step, turned here into the step's updates W_before - W_after (in place);
        hidden: each hidden layer's f(Z). nn.Linear keeps W as (fan_out, fan_in): the .T views
        give the NumPy twin's layout without a copy."""
        linears = self.model.linears
        for w0, linear in zip(before, linears):
            w0.sub_(linear.weight.detach())

        def arrays(tensors):
            return [t.numpy(force=True) for t in tensors]     # detached, on the CPU: a view there
        return layer_diagnostics([g.T for g in arrays(lin.weight.grad for lin in linears)],
                                 arrays(lin.bias.grad for lin in linears),
                                 [W.T for W in arrays(lin.weight for lin in linears)],
                                 [U.T for U in arrays(before)], arrays(hidden), self.config.activation,
                                 with_histograms=histogram_step(self.steps, self.config.diag_every))

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

"""Saving and loading trained networks. Either twin reads a model the other saved.

.npz (NumPy): arrays W0, b0, W1, b1, ... (W of shape (fan_in, fan_out)) and `activation`, read with
allow_pickle=False so a file can never run code. .pt (torch): {"state_dict", "activation"}, read
with weights_only=True for the same reason.
"""

import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .config import ACTIVATION_NAMES, N_INPUTS, N_OUTPUTS
from .errors import ModelFileError

FORMAT = "nn_core-mlp-1"


@dataclass
class SavedModel:
    params: list            # [(W, b), ...], W of shape (fan_in, fan_out)
    activation: str

    @property
    def layer_sizes(self) -> tuple[int, ...]:
        return (self.params[0][0].shape[0], *(W.shape[1] for W, _ in self.params))

    @property
    def hidden(self) -> tuple[int, ...]:
        return self.layer_sizes[1:-1]

    def numpy_model(self):
        from .numpy_mlp import NumpyMLP
        return NumpyMLP(self.params, self.activation)


def save_npz(target, params, activation):
    """target: a path or a binary file object."""
    arrays = {f"{k}{i}": a for i, (W, b) in enumerate(params) for k, a in (("W", W), ("b", b))}
    np.savez(target, activation=np.array(activation), format=np.array(FORMAT), **arrays)


def save_pt(target, params, activation):
    import torch
    state = {}
    for i, (W, b) in enumerate(params):
        state[f"linears.{i}.weight"] = torch.from_numpy(np.ascontiguousarray(W.T))
        state[f"linears.{i}.bias"] = torch.from_numpy(np.asarray(b).copy())
    torch.save({"state_dict": state, "activation": activation, "format": FORMAT}, target)


SAVERS = {".npz": save_npz, ".pt": save_pt}


def save_model(path, params, activation) -> Path:
    path = Path(path)
    saver = SAVERS.get(path.suffix.lower())
    if saver is None:
        raise ModelFileError(f"cannot save a model as {path.name!r}; the name must end in .npz or .pt.")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        saver(path, params, activation)
    except OSError as e:
        raise ModelFileError(f"cannot write {path}: {e.strerror or e}; choose another folder.") from None
    return path


def model_bytes(params, activation, kind=".npz") -> bytes:
    buffer = io.BytesIO()
    SAVERS[kind](buffer, params, activation)
    return buffer.getvalue()


def _read_npz(data: bytes, name: str) -> SavedModel:
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except ValueError:
        raise ModelFileError(f"{name} holds Python objects (pickle), which this app refuses to load "
                             "because they can run code; save the model again with this app.") from None
    except Exception:
        raise ModelFileError(f"{name} is not a readable .npz model file (it may be corrupt or "
                             "truncated); save the model again.") from None
    n_layers = sum(1 for k in arrays if k.startswith("W") and k[1:].isdigit())
    try:
        # max(..., 1): a file with no W arrays at all is "no 'W0' array", not a 0-layer model.
        params = [(arrays[f"W{i}"], arrays[f"b{i}"]) for i in range(max(n_layers, 1))]
        activation = str(arrays["activation"])
    except KeyError as e:
        raise ModelFileError(f"{name} is an .npz file but not a model saved by this app "
                             f"(no {e.args[0]!r} array); save the model again.") from None
    return SavedModel(params, activation)


def _read_pt(data: bytes, name: str) -> SavedModel:
    try:
        import torch
    except ImportError:
        raise ModelFileError(f"{name} is a PyTorch file and PyTorch is not installed; install it "
                             "(pip install torch==2.13.0) or use the .npz version.") from None
    try:
        obj = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as e:
        text = str(e)
        if "weights_only" in text or "Unsupported global" in text or "pickle" in text.lower():
            raise ModelFileError(f"{name} needs pickle to load (it contains Python objects, which "
                                 "can run code), so it is refused; save a state_dict with this app.") from None
        raise ModelFileError(f"{name} is not a readable PyTorch model file (it may be corrupt); "
                             "save the model again.") from None
    state = obj.get("state_dict", obj) if isinstance(obj, dict) else None
    if not isinstance(state, dict):
        raise ModelFileError(f"{name} does not hold a state_dict; save the model again with this app.")
    activation = obj.get("activation", "relu") if isinstance(obj, dict) else "relu"
    params = []
    for i in range(len(state)):
        w, b = state.get(f"linears.{i}.weight"), state.get(f"linears.{i}.bias")
        if w is None or b is None:
            break
        if not (isinstance(w, torch.Tensor) and isinstance(b, torch.Tensor)):
            raise ModelFileError(f"{name}: linears.{i} holds {type(w).__name__} / {type(b).__name__} "
                                 "values instead of tensors, so it is not a model saved by this app.")
        try:
            params.append((w.detach().numpy().T.copy(), b.detach().numpy().copy()))
        except (TypeError, RuntimeError):  # e.g. bfloat16, which NumPy has no type for
            raise ModelFileError(f"{name}: linears.{i} holds {w.dtype} tensors, which this app cannot "
                                 "read; save the model as float32 or float64.") from None
    if not params:
        raise ModelFileError(f"{name} has no linears.N.weight / linears.N.bias tensors, so it is not "
                             "a model saved by this app.")
    return SavedModel(params, str(activation))


READERS = {".npz": _read_npz, ".pt": _read_pt}


def load_model(source, name: str | None = None) -> SavedModel:
    """source: a path, bytes, or a binary file object (an upload). Checks that the layers chain up."""
    if isinstance(source, (str, Path)):
        path = Path(source)
        name = name or path.name
        try:
            data = path.read_bytes()
        except OSError as e:
            raise ModelFileError(f"cannot read model file {path}: {e.strerror or e}.") from None
    else:
        data = source if isinstance(source, bytes) else source.read()
        name = name or getattr(source, "name", "the model file")
    if not data:
        raise ModelFileError(f"{name} is empty; choose a model file saved by this app.")
    is_zip = data[:4] == b"PK\x03\x04"
    kind = Path(name).suffix.lower()
    if kind not in READERS:
        # torch's files are zip archives too; tell them apart by what is inside.
        kind = ".pt" if is_zip and _looks_like_torch(data) else ".npz"
    if not is_zip:
        raise ModelFileError(f"{name} is not a model file (it is not a .npz or .pt archive); "
                             "choose a file saved by this app.")
    model = READERS[kind](data, name)
    _check_shapes(model, name)
    return model


def _looks_like_torch(data: bytes) -> bool:
    try:
        return any(n.endswith("data.pkl") for n in zipfile.ZipFile(io.BytesIO(data)).namelist())
    except zipfile.BadZipFile:
        return False


def _check_shapes(model: SavedModel, name: str):
    if model.activation not in ACTIVATION_NAMES:
        raise ModelFileError(f"{name} uses activation {model.activation!r}, which this app does "
                             f"not know (it knows {', '.join(ACTIVATION_NAMES)}).")
    previous = N_INPUTS
    for i, (W, b) in enumerate(model.params):
        if W.ndim != 2 or b.ndim != 1 or W.shape[0] != previous or W.shape[1] != b.shape[0]:
            raise ModelFileError(f"{name}: layer {i + 1} has shapes W{tuple(W.shape)}, b{tuple(b.shape)}, "
                                 f"which do not chain from {previous} inputs; it is not a digit "
                                 "model for 28x28 images.")
        if not all(np.issubdtype(a.dtype, np.floating) for a in (W, b)):
            raise ModelFileError(f"{name}: layer {i + 1} holds {W.dtype} / {b.dtype} values, not "
                                 "floating-point weights; it is not a model saved by this app.")
        if not all(np.isfinite(a).all() for a in (W, b)):
            raise ModelFileError(f"{name}: layer {i + 1} holds non-numbers (NaN/inf); "
                                 "the model was saved from a diverged run.")
        previous = W.shape[1]
    if previous != N_OUTPUTS:
        raise ModelFileError(f"{name} ends in {previous} outputs, not 10 digits; it is a model for "
                             "another task.")

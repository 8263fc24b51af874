"""Saving and loading trained networks. Either twin reads a model the other saved.

.npz (NumPy): arrays W0, b0, W1, b1, ... (W of shape (fan_in, fan_out)) and `activation`, read with
allow_pickle=False so a file can never run code. .pt (torch): {"state_dict", "activation"}, read
with weights_only=True for the same reason.
"""

import io
import math
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .config import ACTIVATION_NAMES, N_INPUTS, N_OUTPUTS
from .errors import LimitError, ModelFileError
from .limits import Limits, limits_from_env
from .optional_torch import INSTALL_TORCH

FORMAT = "nn_core-mlp-1"
FILE_OVERHEAD = 1 << 20    # bytes a model file may hold beyond its numbers: zip and array headers


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


def max_model_bytes(limits: Limits) -> int:
    """The largest model file within the host's caps: every parameter as float64, plus headers."""
    return limits.max_params * 8 + FILE_OVERHEAD


def _too_big(name: str, what: str, size: int, limits: Limits) -> LimitError:
    bound = max_model_bytes(limits)
    return LimitError(f"{name}{what} {size / 2**20:,.1f} MB, more than a model within this server's cap "
                      f"of {limits.max_params:,} parameters can be ({bound / 2**20:,.1f} MB); use a "
                      "smaller model, or raise the cap with the environment variable NN_MAX_PARAMS.")


def _check_zip_sizes(data: bytes, name: str, limits: Limits, unreadable: str) -> None:
    """Refuse an archive whose parts claim to unpack to more than a model within the caps can be,
    before any part is unpacked. unreadable: the message for a file that is not a zip at all."""
    try:
        infos = zipfile.ZipFile(io.BytesIO(data)).infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        raise ModelFileError(unreadable) from None
    bound = max_model_bytes(limits)
    for info in infos:
        if info.file_size > bound:
            raise _too_big(name, f": its part {_shown(info.filename)} claims to unpack to", info.file_size, limits)
    total = sum(info.file_size for info in infos)
    if total > bound:
        raise _too_big(name, "'s parts claim to unpack to", total, limits)


def _shown(text: str) -> str:
    """A part name as it can be quoted in a one-line message."""
    return repr(text if len(text) <= 40 else text[:37] + "...")


def check_caps(shapes: list, limits: Limits, name: str) -> None:
    """shapes: [(W shape, b shape), ...], W as (fan_in, fan_out). LimitError if the network is over
    the host's caps on hidden layers, their widths or parameters (NN_MAX_LAYERS / _WIDTH / _PARAMS)."""
    hidden = len(shapes) - 1
    if hidden > limits.max_layers:
        raise LimitError(f"{name} has {hidden} hidden layers, over this server's cap of {limits.max_layers} "
                         "(NN_MAX_LAYERS); use a model with fewer layers, or raise the cap with "
                         "the environment variable NN_MAX_LAYERS.")
    for i, (w_shape, _) in enumerate(shapes[:-1], start=1):
        width = w_shape[-1] if w_shape else 0
        if width > limits.max_width:
            raise LimitError(f"{name}: hidden layer {i} has {width:,} units, over this server's cap of "
                             f"{limits.max_width:,} (NN_MAX_WIDTH); use a narrower model, or raise the "
                             "cap with the environment variable NN_MAX_WIDTH.")
    n_params = sum(math.prod(w_shape) + math.prod(b_shape) for w_shape, b_shape in shapes)
    if n_params > limits.max_params:
        raise LimitError(f"{name} has {n_params:,} parameters, over this server's cap of "
                         f"{limits.max_params:,} (NN_MAX_PARAMS); use a smaller model, or raise the "
                         "cap with the environment variable NN_MAX_PARAMS.")


def _npz_headers(data: bytes, name: str) -> dict:
    """{array name: (shape, dtype)} of every .npy part, read from the headers alone (no data)."""
    unreadable = (f"{name} is not a readable .npz model file (it may be corrupt or truncated); "
                  "save the model again.")
    headers = {}
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            for info in archive.infolist():
                if not info.filename.endswith(".npy"):
                    continue
                with archive.open(info) as part:
                    version = np.lib.format.read_magic(part)
                    read_header = {(1, 0): np.lib.format.read_array_header_1_0,
                                   (2, 0): np.lib.format.read_array_header_2_0}.get(version)
                    if read_header is None:
                        raise ModelFileError(unreadable)
                    shape, _, dtype = read_header(part)
                headers[info.filename[:-len(".npy")]] = (shape, dtype)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, zlib.error) as e:
        if isinstance(e, ModelFileError):
            raise
        raise ModelFileError(unreadable) from None
    return headers


def _read_npz(data: bytes, name: str, limits: Limits) -> SavedModel:
    headers = _npz_headers(data, name)      # headers only: safe whatever sizes the parts claim
    if any(dtype.hasobject for _, dtype in headers.values()):
        raise ModelFileError(f"{name} holds Python objects (pickle), which this app refuses to load "
                             "because they can run code; save the model again with this app.")
    n_layers = sum(1 for k in headers if k.startswith("W") and k[1:].isdigit())
    layers = [(headers[f"W{i}"][0], headers.get(f"b{i}", ((),))[0]) for i in range(n_layers)
              if f"W{i}" in headers]
    if layers:
        check_caps(layers, limits, name)
    declared = sum(math.prod(shape) * dtype.itemsize for shape, dtype in headers.values())
    if declared > max_model_bytes(limits):      # arrays that are not layers, or odd dtypes
        raise _too_big(name, "'s arrays hold", declared, limits)
    _check_zip_sizes(data, name, limits, f"{name} is not a readable .npz model file (it may be corrupt "
                                         "or truncated); save the model again.")
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except ValueError:
        raise ModelFileError(f"{name} holds Python objects (pickle), which this app refuses to load "
                             "because they can run code; save the model again with this app.") from None
    except Exception:
        raise ModelFileError(f"{name} is not a readable .npz model file (it may be corrupt or "
                             "truncated); save the model again.") from None
    try:
        # max(..., 1): a file with no W arrays at all is "no 'W0' array", not a 0-layer model.
        params = [(arrays[f"W{i}"], arrays[f"b{i}"]) for i in range(max(n_layers, 1))]
        activation = str(arrays["activation"])
    except KeyError as e:
        raise ModelFileError(f"{name} is an .npz file but not a model saved by this app "
                             f"(no {e.args[0]!r} array); save the model again.") from None
    return SavedModel(params, activation)


def _read_pt(data: bytes, name: str, limits: Limits) -> SavedModel:
    try:
        import torch
    except ImportError:
        raise ModelFileError(f"{name} is a PyTorch file and PyTorch is not installed; install it "
                             f"({INSTALL_TORCH}) or use the .npz version.") from None
    _check_zip_sizes(data, name, limits, f"{name} is not a readable PyTorch model file (it may be "
                                         "corrupt); save the model again.")
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
    tensors = []
    for i in range(len(state)):
        w, b = state.get(f"linears.{i}.weight"), state.get(f"linears.{i}.bias")
        if w is None or b is None:
            break
        if not (isinstance(w, torch.Tensor) and isinstance(b, torch.Tensor)):
            raise ModelFileError(f"{name}: linears.{i} holds {type(w).__name__} / {type(b).__name__} "
                                 "values instead of tensors, so it is not a model saved by this app.")
        tensors.append((w, b))
    if not tensors:
        raise ModelFileError(f"{name} has no linears.N.weight / linears.N.bias tensors, so it is not "
                             "a model saved by this app.")
    check_caps([(tuple(reversed(w.shape)), tuple(b.shape)) for w, b in tensors], limits, name)
    params = []
    for i, (w, b) in enumerate(tensors):
        try:
            params.append((w.detach().numpy().T.copy(), b.detach().numpy().copy()))
        except (TypeError, RuntimeError):  # e.g. bfloat16, which NumPy has no type for
            raise ModelFileError(f"{name}: linears.{i} holds {w.dtype} tensors, which this app cannot "
                                 "read; save the model as float32 or float64.") from None
    return SavedModel(params, str(activation))


READERS = {".npz": _read_npz, ".pt": _read_pt}


def load_model(source, name: str | None = None, limits: Limits | None = None) -> SavedModel:
    """source: a path, bytes, or a binary file object (an upload).

    limits: the host's caps (default: from the environment). The file's size, its zip parts' claimed
    sizes and its arrays' shapes are checked against them before any weights are read; then the
    layers must chain from 784 inputs to 10 outputs. Raises ModelFileError or LimitError.
    """
    limits = limits_from_env() if limits is None else limits
    if isinstance(source, (str, Path)):
        path = Path(source)
        name = name or path.name
        try:
            size = path.stat().st_size
            if size > max_model_bytes(limits):
                raise _too_big(name, " is", size, limits)
            data = path.read_bytes()
        except OSError as e:
            raise ModelFileError(f"cannot read model file {path}: {e.strerror or e}.") from None
    else:
        data = source if isinstance(source, bytes) else source.read()
        name = name or getattr(source, "name", "the model file")
    if not data:
        raise ModelFileError(f"{name} is empty; choose a model file saved by this app.")
    if len(data) > max_model_bytes(limits):
        raise _too_big(name, " is", len(data), limits)
    is_zip = data[:4] == b"PK\x03\x04"
    kind = Path(name).suffix.lower()
    if kind not in READERS:
        # torch's files are zip archives too; tell them apart by what is inside.
        kind = ".pt" if is_zip and _looks_like_torch(data) else ".npz"
    if not is_zip:
        raise ModelFileError(f"{name} is not a model file (it is not a .npz or .pt archive); "
                             "choose a file saved by this app.")
    model = READERS[kind](data, name, limits)
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

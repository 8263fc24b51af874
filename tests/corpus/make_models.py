"""Write the model-file corpus in tests/corpus/models/: two good models and many bad ones.

Run `python tests/corpus/make_models.py` after changing a case; the output is deterministic (fixed
seeds, fixed zip timestamps) and the files are kept in the repository. The expected messages live
in tests/corpus/models/__init__.py (MODEL_CASES). Files are tiny: a valid model needs 784 inputs,
so hidden layers are 2-3 units wide.
"""
from __future__ import annotations

import argparse
import io
import sys
import zipfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from nn_core.init import init_params  # noqa: E402
from nn_core.model_io import FORMAT, model_bytes  # noqa: E402

MODELS_DIR = Path(__file__).resolve().parent / "models"
EPOCH = (1980, 1, 1, 0, 0, 0)  # np.savez stamps the current time; a fixed one keeps files byte-identical


def npz(arrays: dict, allow_pickle: bool = False) -> bytes:
    """Like np.savez (one NAME.npy per array), but with fixed timestamps."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as z:
        for key, value in arrays.items():
            member = io.BytesIO()
            np.lib.format.write_array(member, np.asanyarray(value), allow_pickle=allow_pickle)
            z.writestr(zipfile.ZipInfo(f"{key}.npy", date_time=EPOCH), member.getvalue())
    return buffer.getvalue()


def model_arrays(params, activation="relu") -> dict:
    """The arrays save_npz writes: W0, b0, W1, b1, ..., activation, format."""
    arrays = {"activation": np.array(activation), "format": np.array(FORMAT)}
    for i, (W, b) in enumerate(params):
        arrays[f"W{i}"], arrays[f"b{i}"] = W, b
    return arrays


def pt(obj) -> bytes:
    import torch
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


def payload():
    """A plain Python object in a checkpoint. torch.load(weights_only=False) would unpickle it,
    and unpickling can import and call anything; weights_only=True must refuse it."""
    return argparse.Namespace(note="not a tensor")


def state_dict(params) -> dict:
    import torch
    return {key: torch.from_numpy(np.ascontiguousarray(a)) for i, (W, b) in enumerate(params)
            for key, a in ((f"linears.{i}.weight", W.T), (f"linears.{i}.bias", b))}


def files() -> dict[str, bytes]:
    """File name -> contents, for every file of the corpus."""
    good = init_params((784, 3, 10), "he", seed=0, dtype="float32")
    small = init_params((784, 2, 10), "he", seed=1, dtype="float32")
    valid_npz = npz(model_arrays(good))
    valid_pt = model_bytes(good, "relu", ".pt")
    nan_w = [(W.copy(), b.copy()) for W, b in small]
    nan_w[1][0][0, 0] = np.nan
    nan_b = [(W.copy(), b.copy()) for W, b in small]
    nan_b[0][1][1] = np.inf
    return {
        # good models (the same weights as .npz and .pt)
        "valid.npz": valid_npz,
        "valid.pt": valid_pt,
        # bad files
        "empty.npz": b"",
        "random_bytes.npz": np.random.default_rng(0).integers(0, 256, 256, dtype=np.uint8).tobytes(),
        "text.pt": b"this is not a model\n",
        "truncated.npz": valid_npz[: len(valid_npz) // 2],
        "truncated.pt": valid_pt[: len(valid_pt) // 2],
        "pickled_object.npz": npz({**model_arrays(small), "W0": np.array([{"code": "runs"}], dtype=object)},
                                  allow_pickle=True),
        "no_weights.npz": npz({"activation": np.array("relu")}),
        "missing_bias.npz": npz({k: v for k, v in model_arrays(small).items() if k != "b1"}),
        "missing_activation.npz": npz({k: v for k, v in model_arrays(small).items() if k != "activation"}),
        "needs_pickle.pt": pt({"state_dict": state_dict(small), "activation": "relu", "extra": payload()}),
        "no_state_dict.pt": pt([1, 2, 3]),
        "no_linears.pt": pt({"state_dict": {"fc.weight": state_dict(small)["linears.0.weight"]}}),
        "not_tensors.pt": pt({"state_dict": {"linears.0.weight": 1, "linears.0.bias": 2}}),
        "inputs_100.npz": npz(model_arrays(init_params((100, 2, 10), "he", seed=2, dtype="float32"))),
        "inputs_100.pt": model_bytes(init_params((100, 2, 10), "he", seed=2, dtype="float32"), "relu", ".pt"),
        "outputs_5.npz": npz(model_arrays(init_params((784, 2, 5), "he", seed=3, dtype="float32"))),
        "layers_do_not_chain.npz": npz(model_arrays([small[0], (np.zeros((3, 10), np.float32),
                                                                np.zeros(10, np.float32))])),
        "nan_weights.npz": npz(model_arrays(nan_w)),
        "inf_bias.pt": model_bytes(nan_b, "relu", ".pt"),
        "int_weights.npz": npz(model_arrays([(W.astype(np.int32), b) for W, b in small])),
        "unknown_activation.npz": npz(model_arrays(small, "softplus")),
        "unknown_activation.pt": model_bytes(small, "softplus", ".pt"),
    }


def write_all(out_dir: Path = MODELS_DIR) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, data in files().items():
        path = out_dir / name
        path.write_bytes(data)
        written.append(path)
    return written


if __name__ == "__main__":
    paths = write_all()
    print(f"wrote {len(paths)} files to {MODELS_DIR} ({sum(p.stat().st_size for p in paths):,} bytes)")

"""nn_core.model_io: round trips, cross-loading between the twins, and one-line errors for bad files."""

import dataclasses
import io
import re
import sys

import numpy as np
import pytest

from corpus.make_models import files as corpus_files
from corpus.models import MODEL_CASES, MODELS_DIR, VALID_LAYER_SIZES, VALID_MODELS
from nn_core.config import TrainConfig
from nn_core.data import load_shipped_sample, make_split
from nn_core.errors import ModelFileError, UserError
from nn_core.init import init_params
from nn_core.model_io import load_model, model_bytes, save_model, save_npz
from nn_core.numpy_mlp import NumpyMLP
from nn_core.trainer import train
from nn_core.twins import initial_params, make_twin

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def split():
    full = make_split(load_shipped_sample())
    return dataclasses.replace(full, x_train=full.x_train[:600], y_train=full.y_train[:600])


def assert_same_params(a, b):
    assert len(a) == len(b)
    for (Wa, ba), (Wb, bb) in zip(a, b):
        assert Wa.dtype == Wb.dtype and ba.dtype == bb.dtype
        np.testing.assert_array_equal(Wa, Wb)
        np.testing.assert_array_equal(ba, bb)


@pytest.mark.parametrize("suffix", [".npz", ".pt"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("hidden", [(), (5,), (6, 4, 3)])
def test_round_trip(tmp_path, suffix, dtype, hidden):
    params = init_params((784, *hidden, 10), "uniform", seed=1, dtype=dtype)
    path = save_model(tmp_path / "sub" / f"model{suffix}", params, "tanh")   # creates the folder
    assert path.exists()
    model = load_model(path)
    assert_same_params(model.params, params)
    assert model.activation == "tanh"
    assert model.layer_sizes == (784, *hidden, 10) and model.hidden == hidden


@pytest.mark.parametrize("suffix", [".npz", ".pt"])
def test_bytes_and_uploads(suffix):
    params = init_params((784, 4, 10), "he", seed=2)
    data = model_bytes(params, "leaky_relu", suffix)
    upload = io.BytesIO(data)
    upload.name = f"upload{suffix}"
    for source, name in ((data, f"m{suffix}"), (upload, None), (data, "no_suffix")):  # sniffed from content
        model = load_model(source, name=name)
        assert_same_params(model.params, params)
        assert model.activation == "leaky_relu"


def test_saving_under_an_unknown_suffix_or_into_a_file_is_refused(tmp_path):
    params = init_params((784, 10), "he")
    with pytest.raises(ModelFileError, match=r"must end in \.npz or \.pt"):
        save_model(tmp_path / "model.pkl", params, "relu")
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ModelFileError, match="cannot write"):
        save_model(blocker / "model.npz", params, "relu")
    with pytest.raises(ModelFileError, match="cannot read model file"):
        load_model(tmp_path / "missing.npz")


def test_torch_twin_saved_as_pt_predicts_the_same_as_numpy(tmp_path, split):
    config = TrainConfig(hidden=(16, 8), epochs=1, batch_size=50, activation="tanh", init="xavier").validated()
    twin = make_twin("torch", config, initial_params(config), device="cpu")
    assert list(train(twin, split, config))[-1].event == "done"
    path = save_model(tmp_path / "torch_twin.pt", twin.params(), config.activation)
    loaded = load_model(path)
    numpy_model = loaded.numpy_model()
    assert isinstance(numpy_model, NumpyMLP) and numpy_model.activation == "tanh"
    x = split.x_val[:200]
    ours, theirs = numpy_model.predict_proba(x), twin.predict_proba(x)
    assert np.abs(ours - theirs).max() <= 1e-5
    assert (ours.argmax(axis=1) == theirs.argmax(axis=1)).all()


def test_numpy_twin_saved_as_npz_loads_into_torch(tmp_path, split):
    from nn_core.torch_mlp import TorchMLP
    config = TrainConfig(hidden=(16,), epochs=1, batch_size=50).validated()
    twin = make_twin("numpy", config, initial_params(config))
    list(train(twin, split, config))
    loaded = load_model(save_model(tmp_path / "numpy_twin.npz", twin.params(), config.activation))
    model = TorchMLP.from_params(loaded.params, loaded.activation, device="cpu").eval()
    with torch.no_grad():
        theirs = torch.softmax(model(torch.from_numpy(split.x_val[:200])), dim=1).numpy()
    assert np.abs(twin.predict_proba(split.x_val[:200]) - theirs).max() <= 1e-5


# ---- the corpus of bad files -------------------------------------------------------------------

def test_corpus_table_covers_every_file():
    on_disk = {p.name for p in MODELS_DIR.iterdir() if p.suffix in (".npz", ".pt")}
    named = [name for name, _ in MODEL_CASES] + VALID_MODELS
    assert len(named) == len(set(named))
    assert on_disk == set(named)


def test_corpus_files_are_what_the_script_writes():
    """The stored files are up to date and the generator is deterministic."""
    expected = corpus_files()
    assert set(expected) == {p.name for p in MODELS_DIR.iterdir() if p.suffix in (".npz", ".pt")}
    for name, data in expected.items():
        assert (MODELS_DIR / name).read_bytes() == data, f"{name} is stale: run python tests/corpus/make_models.py"
    assert sum(len(d) for d in expected.values()) < 200_000


@pytest.mark.parametrize("name", VALID_MODELS)
def test_valid_corpus_models_load(name):
    model = load_model(MODELS_DIR / name)
    assert model.layer_sizes == VALID_LAYER_SIZES and model.activation == "relu"
    probs = model.numpy_model().predict_proba(np.full((2, 784), 0.5, np.float32))
    np.testing.assert_allclose(probs.sum(axis=1), 1, rtol=1e-6)


def test_valid_npz_and_pt_hold_the_same_weights():
    a, b = (load_model(MODELS_DIR / name) for name in VALID_MODELS)
    assert_same_params(a.params, b.params)


@pytest.mark.parametrize("name,expected", MODEL_CASES, ids=[name for name, _ in MODEL_CASES])
def test_bad_model_file_gives_one_line_error(name, expected):
    path = MODELS_DIR / name
    for source, kwargs in ((path, {}), (path.read_bytes(), {"name": name})):   # a path, or an upload
        with pytest.raises(ModelFileError) as caught:
            load_model(source, **kwargs)
        message = str(caught.value)
        assert expected in message
        assert name in message                    # says which file
        assert "\n" not in message and "Traceback" not in message
        assert message.endswith(".") and len(message) < 300
        assert isinstance(caught.value, UserError)


def test_bad_bytes_from_an_unnamed_upload():
    with pytest.raises(ModelFileError, match="is not a model file"):
        load_model(io.BytesIO(b"\x00" * 100))
    with pytest.raises(ModelFileError, match="is empty"):
        load_model(io.BytesIO(b""))


def test_without_torch_pt_files_get_a_clear_error_and_npz_still_loads(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(ModelFileError, match=r"PyTorch is not installed.*use the \.npz version"):
        load_model(MODELS_DIR / "valid.pt")
    assert load_model(MODELS_DIR / "valid.npz").layer_sizes == VALID_LAYER_SIZES


def test_the_hosts_caps_hold_for_a_loaded_model():
    """Layers, widths and parameters over the caps are refused from the shapes, naming the cap."""
    from nn_core.errors import LimitError
    from nn_core.limits import Limits
    rng = np.random.default_rng(0)

    def model(*sizes):
        buffer = io.BytesIO()
        save_npz(buffer, [(rng.normal(size=(a, b)), np.zeros(b)) for a, b in zip(sizes, sizes[1:])], "relu")
        return buffer.getvalue()

    cases = [(model(784, *[4] * 3, 10), Limits(max_layers=2), "has 3 hidden layers, over this server's cap of 2 (NN_MAX_LAYERS)"),
             (model(784, 40, 10), Limits(max_width=32), "hidden layer 1 has 40 units, over this server's cap of 32 (NN_MAX_WIDTH)"),
             (model(784, 40, 10), Limits(max_params=1000), "has 31,810 parameters, over this server's cap of 1,000 (NN_MAX_PARAMS)")]
    for data, limits, expected in cases:
        with pytest.raises(LimitError, match=re.escape(expected)):
            load_model(data, name="m.npz", limits=limits)
    assert load_model(model(784, 40, 10), name="m.npz", limits=Limits()).layer_sizes == (784, 40, 10)
    with pytest.raises(LimitError, match=r"^m\.npz is 1\.\d MB, more than a model within this server's cap of 1,000 "):
        load_model(model(784, 200, 10), name="m.npz", limits=Limits(max_params=1000))   # the size, first

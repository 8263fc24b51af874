"""The model-file corpus: files written by tests/corpus/make_models.py, and what loading each must say.

MODEL_CASES: (file name, a substring of the one-line ModelFileError message) for every bad file.
VALID_MODELS: files that load: a 784-3-10 ReLU network, the same weights as .npz and as .pt.
Shared by the model_io, CLI and app tests: `from corpus.models import MODELS_DIR, MODEL_CASES`.
"""
from pathlib import Path

MODELS_DIR = Path(__file__).resolve().parent

VALID_MODELS: list[str] = ["valid.npz", "valid.pt"]
VALID_LAYER_SIZES = (784, 3, 10)

MODEL_CASES: list[tuple[str, str]] = [
    ("empty.npz", "is empty"),
    ("random_bytes.npz", "is not a model file"),
    ("text.pt", "is not a model file"),
    ("truncated.npz", "not a readable .npz model file"),
    ("truncated.pt", "not a readable PyTorch model file"),
    ("pickled_object.npz", "holds Python objects (pickle)"),
    ("no_weights.npz", "no 'W0' array"),
    ("missing_bias.npz", "no 'b1' array"),
    ("missing_activation.npz", "no 'activation' array"),
    ("needs_pickle.pt", "needs pickle to load"),
    ("no_state_dict.pt", "does not hold a state_dict"),
    ("no_linears.pt", "has no linears.N.weight"),
    ("not_tensors.pt", "instead of tensors"),
    ("inputs_100.npz", "do not chain from 784 inputs"),
    ("inputs_100.pt", "do not chain from 784 inputs"),
    ("outputs_5.npz", "ends in 5 outputs, not 10"),
    ("layers_do_not_chain.npz", "layer 2 has shapes W(3, 10)"),
    ("nan_weights.npz", "layer 2 holds non-numbers (NaN/inf)"),
    ("inf_bias.pt", "layer 1 holds non-numbers (NaN/inf)"),
    ("int_weights.npz", "not floating-point weights"),
    ("unknown_activation.npz", "uses activation 'softplus'"),
    ("unknown_activation.pt", "uses activation 'softplus'"),
]

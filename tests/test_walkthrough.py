"""nn_core.walkthrough: the step-by-step trace agrees with NumpyMLP, shape by shape and number by number."""

import numpy as np
import pytest

from nn_core import evaluate, walkthrough
from nn_core.config import ACTIVATION_NAMES
from nn_core.init import init_params
from nn_core.model_io import SavedModel
from nn_core.numpy_mlp import NumpyMLP


def model(hidden=(16, 8), activation="relu", dtype="float64"):
    return SavedModel(init_params((784, *hidden, 10), "he", seed=1, dtype=dtype), activation)


def image(seed=0):
    return np.random.default_rng(seed).random(784)


@pytest.mark.parametrize("hidden", [(16, 8), (5,), ()])
def test_shapes_follow_the_layer_sizes(hidden):
    steps = walkthrough.forward_backward_trace(model(hidden), image(), label=3)
    by_name = {s["name"]: s for s in steps}
    sizes = (784, *hidden, 10)
    n_layers = len(sizes) - 1
    assert by_name["A[0]"]["shape"] == "1 × 784"
    for layer in range(1, n_layers + 1):
        assert by_name[f"Z[{layer}]"]["shape"] == f"1 × {sizes[layer]}"
        assert by_name[f"dZ[{layer}]"]["shape"] == f"1 × {sizes[layer]}"
        assert by_name[f"dW[{layer}]"]["shape"] == f"{sizes[layer - 1]} × {sizes[layer]}"
        assert by_name[f"db[{layer}]"]["shape"] == f"{sizes[layer]}"
    for layer in range(1, n_layers):
        assert by_name[f"A[{layer}]"]["shape"] == f"1 × {sizes[layer]}"
        assert by_name[f"dA[{layer}]"]["shape"] == f"1 × {sizes[layer]}"
    assert by_name["p"]["shape"] == "1 × 10" and by_name["loss"]["shape"] == "scalar"
    assert [s["phase"] for s in steps].index("backward") > [s["phase"] for s in steps].index("loss")


@pytest.mark.parametrize("activation", ACTIVATION_NAMES)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_gradients_equal_numpy_backward(activation, dtype):
    saved = model((12, 7), activation, dtype)
    x, label = image(2).astype(dtype), 7
    steps = walkthrough.forward_backward_trace(saved, x, label)
    net = NumpyMLP(saved.params, activation)
    loss, logits, grads = net.loss_and_grads(x.reshape(1, -1), np.array([label]))
    traced = walkthrough.trace_gradients(steps)
    assert len(traced) == len(grads)
    for mine, theirs in zip(traced, grads):
        assert mine.shape == theirs.shape and mine.dtype == theirs.dtype
        np.testing.assert_array_equal(mine, theirs)
    by_name = {s["name"]: s for s in steps}
    assert by_name["loss"]["norm"] == pytest.approx(loss)
    np.testing.assert_array_equal(by_name["Z[3]"]["array"], logits)


def test_previews_norms_and_latex():
    steps = walkthrough.forward_backward_trace(model(), image(), label=0)
    for step in steps:
        flat = np.ravel(step["array"]).astype(np.float64)
        assert step["values_preview"] == pytest.approx(flat[:walkthrough.PREVIEW].tolist())
        assert step["norm"] == pytest.approx(np.linalg.norm(flat))
        assert step["equation_latex"].count("{") == step["equation_latex"].count("}")
    probs = next(s for s in steps if s["name"] == "p")["array"]
    assert probs.sum() == pytest.approx(1)


def test_activations_gradients_and_histograms():
    saved = model((6,))
    layers = walkthrough.layer_activations(saved, image())
    assert [v.shape for _, v in layers] == [(6,), (10,)]
    grads = walkthrough.batch_gradients(saved, np.random.default_rng(0).random((5, 784)), np.arange(5))
    assert [(dW.shape, db.shape) for dW, db in grads] == [((784, 6), (6,)), ((6, 10), (10,))]
    centres, counts = walkthrough.histogram(saved.params[0][0], bins=10)
    assert centres.shape == counts.shape == (10,) and counts.sum() == 784 * 6


def test_evaluate_helpers():
    labels = np.array([0, 1, 2, 2])
    probs = np.eye(10)[[0, 2, 2, 1]] * 0.9 + 0.01
    predicted = probs.argmax(axis=1)
    matrix = evaluate.confusion_matrix(labels, predicted)
    assert matrix.sum() == 4 and matrix[0, 0] == 1 and matrix[1, 2] == 1 and matrix[2, 1] == 1
    assert sorted(evaluate.misclassified(labels, probs).tolist()) == [1, 3]

    from nn_core.data import Dataset
    saved = model((4,), dtype="float32")
    test_set = Dataset(np.random.default_rng(0).integers(0, 256, (7, 784)).astype(np.uint8), None, "t")
    submission = evaluate.make_submission(evaluate.numpy_predictor(saved), test_set)
    assert submission.columns.tolist() == ["ImageId", "Label"]
    assert submission["ImageId"].tolist() == list(range(1, 8))
    torch_labels = evaluate.make_submission(evaluate.torch_predictor(saved), test_set)["Label"]
    assert torch_labels.tolist() == submission["Label"].tolist()

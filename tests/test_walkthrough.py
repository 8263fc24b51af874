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
        array = np.asarray(step["array"], dtype=np.float64)
        sizes = [abs(v) for _, v in step["largest"]]
        assert sizes == sorted(sizes, reverse=True)                 # the largest, in order
        assert len(sizes) == min(walkthrough.PREVIEW, flat.size)
        assert sizes[-1] >= np.sort(np.abs(flat))[-len(sizes)]
        for index, value in step["largest"]:
            assert array[index] == value                            # and where they sit
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


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "nesterov", "rmsprop", "adam"])
def test_default_network_step_agrees_with_autograd_and_uses_the_optimizers_rule(optimizer):
    pytest.importorskip("torch")
    from nn_core.config import TrainConfig
    from nn_core.optim import OPTIMIZERS
    config = TrainConfig(optimizer=optimizer)
    saved = SavedModel(init_params(config.layer_sizes, "he", seed=0, dtype="float32"), "relu")
    x, label = image(4), 3
    step = walkthrough.training_step(saved, x, label, optimizer, lr=1e-3)
    rows = step["comparison"]
    assert [r["name"] for r in rows] == ["dZ[3]", "dW[3]", "db[3]", "dA[2]", "dZ[2]", "dW[2]", "db[2]",
                                         "dA[1]", "dZ[1]", "dW[1]", "db[1]"]
    assert {r["verdict"] for r in rows} <= {"exact", "close"}
    assert max(r["max_diff"] for r in rows) < 1e-12                       # float64
    # the update is nn_core.optim's (= torch.optim's) on the same float64 gradients
    params64 = [np.asarray(p, dtype=np.float64) for pair in saved.params for p in pair]
    grads = walkthrough.trace_gradients(walkthrough.forward_backward_trace(
        SavedModel(list(zip(params64[0::2], params64[1::2])), "relu"), x, label))
    expected = [p.copy() for p in params64]
    OPTIMIZERS[optimizer](1e-3).step(expected, grads)
    after = [p for pair in step["update"]["params_after"] for p in pair]
    for a, b in zip(after, expected, strict=True):
        np.testing.assert_array_equal(a, b)
    ex = step["update"]["example"]
    assert ex["w_after"] != ex["w"] and set(ex["state"]) == set(walkthrough.OPTIMIZER_STATE[optimizer])
    assert step["loss_after"] < step["loss_before"]                     # a small step helps this digit


def test_stage_titles_and_texts():
    steps = walkthrough.forward_backward_trace(model((16, 8)), image(), label=2)
    kinds = [s["kind"] for s in walkthrough.stages(steps)]
    assert kinds == ["input", "hidden", "hidden", "output", "softmax", "loss", "output_error",
                     "backward", "backward", "backward"]
    text = " ".join(walkthrough.STAGE_TEXT.values())
    for defined in ("logits", "[z > 0] is 1 where z > 0", "A = f(Z)", "onehot(y)", "ln 10 ≈ 2.30", "B is the batch size"):
        assert defined in text


@pytest.mark.parametrize("hidden,activation", [((16, 8), "relu"), ((12,), "tanh"), ((), "relu")])
def test_unit_view_adds_up(hidden, activation):
    saved = model(hidden, activation)
    x, label, unit = image(5), 4, 3
    view = walkthrough.unit_view(saved, x, label, unit)
    W = saved.params[0][0][:, unit].reshape(28, 28)
    np.testing.assert_array_equal(view["weights"], W)
    np.testing.assert_allclose(view["contribution"], x.reshape(28, 28) * W)
    assert view["total"] + view["bias"] == pytest.approx(view["z"], abs=1e-12)
    np.testing.assert_allclose(view["gradient"], x.reshape(28, 28) * view["dz"])   # ink × dz
    if hidden:
        from nn_core.functional import ACTIVATIONS
        assert view["a"] == pytest.approx(float(ACTIVATIONS[activation](np.array([view["z"]]))[0]))
        assert view["dz"] == pytest.approx(view["incoming"] * view["local"])
    else:
        assert view["is_output"] and view["dz"] == pytest.approx(view["a"] - (unit == label))


def test_zero_rows_counts_pixels_without_ink():
    x = np.zeros((3, 784))
    x[:, 100:300] = 0.5
    grads = walkthrough.batch_gradients(model((6,)), x, np.arange(3))
    assert walkthrough.zero_rows(grads[0][0]) == 784 - 200

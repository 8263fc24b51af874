"""Using a trained network: predictions, the confusion matrix, the mistakes, a Kaggle submission.

A predictor is any function images -> probabilities: float (n, 784) in [0, 1] -> (n, 10). Both twins
have one (`twin.predict_proba`), and `numpy_predictor` / `torch_predictor` build one from a saved
model's weights.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .data import Dataset, scale_pixels
from .errors import DataError
from .numpy_mlp import EVAL_CHUNK

N_CLASSES = 10


def numpy_predictor(saved_model):
    """The NumPy network with these weights, as a predictor."""
    return saved_model.numpy_model().predict_proba


def torch_predictor(saved_model, device="cpu"):
    """The PyTorch twin (nn.Module) with these weights, as a predictor. Imports torch."""
    import torch

    from .torch_mlp import TorchMLP

    dtype = str(saved_model.params[0][0].dtype)
    model = TorchMLP.from_params(saved_model.params, saved_model.activation, dtype=dtype, device=device)
    model.eval()

    @torch.no_grad()
    def predict_proba(x):
        logits = model(torch.as_tensor(np.asarray(x, dtype=dtype), device=device))
        return torch.softmax(logits, dim=1).cpu().numpy()

    return predict_proba


def predict_labels(predict_proba, images: np.ndarray, batch: int = EVAL_CHUNK) -> np.ndarray:
    """images uint8 (n, 784) -> predicted digits int64 (n,), in batches to bound memory."""
    out = [predicted_digits(predict_proba(scale_pixels(images[i:i + batch])))
           for i in range(0, len(images), batch)]
    return np.concatenate(out).astype(np.int64) if out else np.zeros(0, dtype=np.int64)


def predicted_digits(probs: np.ndarray) -> np.ndarray:
    """probs (n, 10) -> the digit each row scores highest, int64 (n,)."""
    return np.asarray(probs).argmax(axis=1).astype(np.int64)


def top_digit(probs: np.ndarray) -> tuple[int, float]:
    """One image's probabilities (10,) -> (the digit it scores highest, that probability)."""
    probs = np.asarray(probs)
    digit = int(probs.argmax())
    return digit, float(probs[digit])


def hits(labels: np.ndarray, predicted: np.ndarray) -> int:
    """How many predictions equal their label. labels, predicted: (n,)."""
    return int(np.count_nonzero(np.asarray(predicted) == np.asarray(labels)))


def accuracy(labels: np.ndarray, predicted: np.ndarray) -> float:
    """The share of predictions equal to their label, in [0, 1] (0 for no images). (n,), (n,)."""
    return hits(labels, predicted) / len(labels) if len(labels) else 0.0


def confusion_matrix(labels: np.ndarray, predicted: np.ndarray, n_classes: int = N_CLASSES) -> np.ndarray:
    """counts int64 (n_classes, n_classes): row = true digit, column = predicted digit."""
    pairs = np.asarray(labels, dtype=np.int64) * n_classes + np.asarray(predicted, dtype=np.int64)
    return np.bincount(pairs, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def most_confused(matrix: np.ndarray) -> tuple[int, int, int] | None:
    """(true digit, predicted digit, count) of the largest off-diagonal cell; None if no mistakes."""
    off = np.array(matrix, dtype=np.int64)
    np.fill_diagonal(off, 0)
    if not off.any():
        return None
    true, predicted = np.unravel_index(int(off.argmax()), off.shape)
    return int(true), int(predicted), int(off[true, predicted])


def misclassified(labels: np.ndarray, probs: np.ndarray, limit: int = 24) -> np.ndarray:
    """Row indices of wrong predictions, most confident mistakes first, at most `limit`.

    labels (n,), probs (n, 10).
    """
    predicted = predicted_digits(probs)
    wrong = np.flatnonzero(predicted != labels)
    confidence = probs[wrong, predicted[wrong]]
    return wrong[np.argsort(-confidence, kind="stable")][:limit]


def make_submission(predict_proba, dataset: Dataset) -> pd.DataFrame:
    """Kaggle's submission.csv for a test.csv: columns ImageId (from 1) and Label, one row per image."""
    if len(dataset) == 0:
        raise DataError(f"{dataset.name} has no images to predict.")
    labels = predict_labels(predict_proba, dataset.images)
    return pd.DataFrame({"ImageId": np.arange(1, len(labels) + 1), "Label": labels})

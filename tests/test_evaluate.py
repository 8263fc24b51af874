"""nn_core.evaluate: the numbers the Try it page and the CLI show, computed once, in nn_core."""

import numpy as np
import pytest

from nn_core import evaluate
from nn_core.data import Dataset
from nn_core.errors import DataError

PROBS = np.array([[0.1, 0.7, 0.2],        # -> 1
                  [0.5, 0.3, 0.2],        # -> 0
                  [0.2, 0.2, 0.6],        # -> 2
                  [0.3, 0.4, 0.3]])       # -> 1


def test_predicted_digits_are_each_rows_highest_score():
    predicted = evaluate.predicted_digits(PROBS)
    assert predicted.dtype == np.int64 and predicted.tolist() == [1, 0, 2, 1]


def test_top_digit_names_the_digit_and_its_probability():
    assert evaluate.top_digit(np.array([0.05, 0.15, 0.8])) == (2, pytest.approx(0.8))
    digit, p = evaluate.top_digit(np.array([0.6, 0.4], dtype=np.float32))
    assert type(digit) is int and type(p) is float


def test_hits_and_accuracy_count_the_predictions_equal_to_their_label():
    labels = np.array([1, 0, 0, 2])
    predicted = evaluate.predicted_digits(PROBS)          # [1, 0, 2, 1]: two right
    assert evaluate.hits(labels, predicted) == 2
    assert evaluate.accuracy(labels, predicted) == 0.5
    assert evaluate.accuracy(np.zeros(0, np.int64), np.zeros(0, np.int64)) == 0.0


def test_a_submission_labels_every_image_from_image_id_1():
    images = np.zeros((5, 784), np.uint8)
    images[:, 0] = [0, 255, 0, 255, 255]                  # the "predictor" reads pixel 0

    def predict_proba(x):                                 # x: float (n, 784) in [0, 1]
        return np.stack([1 - x[:, 0], x[:, 0]], axis=1)

    submission = evaluate.make_submission(predict_proba, Dataset(images, None, "test.csv"))
    assert submission["ImageId"].tolist() == [1, 2, 3, 4, 5]
    assert submission["Label"].tolist() == [0, 1, 0, 1, 1]
    with pytest.raises(DataError, match="no images"):
        evaluate.make_submission(predict_proba, Dataset(images[:0], None, "empty.csv"))

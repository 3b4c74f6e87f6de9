"""The shared scoring function against hand-computed figures."""

from __future__ import annotations

import numpy as np
import pytest

from zhijian_core.errors import DatasetError
from zhijian_core.train.metrics import quality_from_predictions

NAMES = ("neg", "neu", "pos")


def test_hand_computed_accuracy_and_macro_f1() -> None:
    y_true = [0, 0, 0, 1, 1, 2]
    y_pred = [0, 0, 1, 1, 2, 2]
    q = quality_from_predictions(y_true, y_pred, NAMES)
    # neg: P 2/2, R 2/3, F1 .8; neu: P 1/2, R 1/2, F1 .5; pos: P 1/2, R 1/1, F1 2/3.
    assert q.accuracy == pytest.approx(4 / 6)
    assert q.macro_f1 == pytest.approx((0.8 + 0.5 + 2 / 3) / 3)
    assert q.per_class["neg"] == pytest.approx({"precision": 1.0, "recall": 2 / 3, "f1": 0.8,
                                                "support": 3.0})
    assert q.per_class["pos"] == pytest.approx({"precision": 0.5, "recall": 1.0, "f1": 2 / 3,
                                                "support": 1.0})


def test_class_absent_from_both_is_listed_but_not_averaged() -> None:
    q = quality_from_predictions(np.array([0, 1]), np.array([0, 0]), NAMES)
    # neg: P 1/2, R 1, F1 2/3; neu: F1 0 (never predicted); pos absent from both.
    assert q.macro_f1 == pytest.approx((2 / 3 + 0.0) / 2)
    assert q.per_class["pos"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0.0}


def test_perfect_predictions() -> None:
    q = quality_from_predictions([2, 1, 0], [2, 1, 0], NAMES)
    assert (q.accuracy, q.macro_f1) == (1.0, 1.0)


@pytest.mark.parametrize(("y_true", "y_pred", "message"), [
    ([], [], "empty"),
    ([0, -1], [0, 1], "outside"),
    ([0, 3], [0, 1], "outside"),
    ([0, 1], [0, 5], "predictions"),
])
def test_bad_labels_are_refused(y_true: list[int], y_pred: list[int], message: str) -> None:
    with pytest.raises(DatasetError, match=message):
        quality_from_predictions(y_true, y_pred, NAMES)


def test_length_mismatch_and_repeated_names() -> None:
    with pytest.raises(ValueError, match="2 true labels but 1"):
        quality_from_predictions([0, 1], [0], NAMES)
    with pytest.raises(DatasetError, match="distinct"):
        quality_from_predictions([0], [0], ("a", "a"))

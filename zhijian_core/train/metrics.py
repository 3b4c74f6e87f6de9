"""Quality of predicted labels against true labels: the one place accuracy and macro-F1 are computed.

The trainer, the training-free methods and the non-PTM baselines all report their test quality
through :func:`quality_from_predictions`, so every row of a leaderboard is scored the same way.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from zhijian_core.errors import DatasetError, MissingDependencyError
from zhijian_core.train.result import Quality


def quality_from_predictions(
    y_true: np.ndarray | Sequence[int],
    y_pred: np.ndarray | Sequence[int],
    label_names: Sequence[str],
) -> Quality:
    """Score predicted class indices against the true ones.

    Macro-F1 averages the F1 of the classes that occur in ``y_true`` or ``y_pred`` (scikit-learn's
    default): a class absent from both has no F1 to speak of and would otherwise count as 0.
    ``per_class`` still lists every class of ``label_names`` (an absent one with support 0 and
    zeros), so tables over several runs have the same rows. Undefined precision or recall (no
    predictions, or no examples, of a class) counts as 0.

    Args:
        y_true: True class indices, ``(N,)``, each in ``[0, len(label_names))``.
        y_pred: Predicted class indices, ``(N,)``, same range.
        label_names: Class names; index ``i`` names class ``i``.

    Returns:
        Accuracy, macro-F1 and per-class precision, recall, F1 and support keyed by class name.

    Raises:
        DatasetError: Repeated label names, no examples, unlabelled examples (``-1``) or indices outside the label range.
        ValueError: ``y_true`` and ``y_pred`` differ in length.
        MissingDependencyError: scikit-learn is not installed.
    """
    try:
        from sklearn.metrics import classification_report, f1_score
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise MissingDependencyError(
            "scoring predictions needs scikit-learn: pip install 'zhijian[train]'"
        ) from exc

    true = np.asarray(y_true, dtype=np.int64).reshape(-1)
    pred = np.asarray(y_pred, dtype=np.int64).reshape(-1)
    names = [str(name) for name in label_names]
    if len(true) != len(pred):
        raise ValueError(f"{len(true)} true labels but {len(pred)} predictions")
    if len(true) == 0:
        raise DatasetError("cannot score an empty split: it has no examples")
    n_classes = len(names)
    if len(set(names)) != n_classes:
        raise DatasetError(f"label names must be distinct, got {names}")
    for what, values in (("true labels", true), ("predictions", pred)):
        bad = values[(values < 0) | (values >= n_classes)]
        if bad.size:
            raise DatasetError(
                f"{what} contain {bad.size} value(s) outside 0..{n_classes - 1} (e.g. {int(bad[0])}); "
                "a scored split must be fully labelled with indices into label_names"
            )

    all_labels = list(range(n_classes))
    report = classification_report(
        true, pred, labels=all_labels, target_names=names, output_dict=True, zero_division=0
    )
    per_class = {
        name: {
            "precision": float(report[name]["precision"]),
            "recall": float(report[name]["recall"]),
            "f1": float(report[name]["f1-score"]),
            "support": float(report[name]["support"]),
        }
        for name in names
    }
    present = sorted(set(true.tolist()) | set(pred.tolist()))
    macro_f1 = f1_score(true, pred, labels=present, average="macro", zero_division=0)
    return Quality(
        accuracy=float(np.mean(true == pred)),
        macro_f1=float(macro_f1),
        per_class=per_class,
    )

"""The non-PTM baselines a comparison always reports: TF-IDF or raw pixels + logistic regression.

A reuse method that does not beat these has not reused anything. Both run in the same process and
on the same splits as the methods they are compared with, and report the same quality and cost
figures. Regularisation strength ``C`` is chosen on the validation split by macro-F1 from
:data:`C_GRID` (ties go to the smaller ``C``); the chosen model, fitted on ``splits.train``, is
reported on ``splits.test``.
"""

from __future__ import annotations

import io
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from zhijian_core.data.dataset import Dataset, Splits
from zhijian_core.errors import DatasetError, MissingDependencyError
from zhijian_core.train.memory import PeakRss
from zhijian_core.train.metrics import quality_from_predictions
from zhijian_core.train.result import Cost, Quality, RunResult

C_GRID: tuple[float, ...] = (0.5, 2.0, 8.0)
"""Inverse regularisation strengths tried on the validation split."""
MAX_ITER = 2000
"""Iteration limit of the logistic regression solver (lbfgs)."""
PIXEL_SIDE = 32
"""Side that encoded images (bytes or files) are resized to before flattening."""
LATENCY_REPEATS = 30
"""Single-example predictions timed for the batch-1 latency."""
THROUGHPUT_REPEATS = 10
"""Batches of 32 timed for the throughput."""

Featurise = Callable[[Any], Any]


@dataclass(frozen=True)
class _Fit:
    transform: Featurise
    classifier: Any
    c: float
    val_quality: Quality
    train_seconds: float
    peak_memory_mb: float
    features: dict


def run_baseline(splits: Splits, seed: int, dataset_name: str) -> RunResult:
    """Fit and evaluate the non-PTM baseline that matches the data's modality.

    Args:
        splits: The splits the compared methods use.
        seed: Seed of the run (recorded; the lbfgs fit itself is deterministic).
        dataset_name: Name the dataset is reported under.

    Returns:
        A ``tfidf_logreg`` (text) or ``pixels_logreg`` (image) run of family ``baseline``.

    Raises:
        DatasetError: A split is empty or unlabelled, training has fewer than two classes, or the
            inputs are not of the kind the baseline reads.
        MissingDependencyError: scikit-learn or psutil is not installed.
    """
    if splits.train.modality == "text":
        return tfidf_logreg(splits, seed, dataset_name)
    return pixels_logreg(splits, seed, dataset_name)


def tfidf_logreg(splits: Splits, seed: int, dataset_name: str) -> RunResult:
    """TF-IDF of word 1–2-grams (sublinear tf, ``min_df=2``) and logistic regression.

    Args:
        splits: Text splits (``inputs`` are strings).
        seed: Seed of the run.
        dataset_name: Name the dataset is reported under.

    Returns:
        The ``tfidf_logreg`` run.

    Raises:
        DatasetError: See :func:`run_baseline`.
        MissingDependencyError: See :func:`run_baseline`.
    """
    _require_text(splits.train)

    def prepare(train_inputs: Sequence[str]) -> tuple[Featurise, dict]:
        from sklearn.feature_extraction.text import TfidfVectorizer

        vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2)
        try:
            vectorizer.fit(list(train_inputs))
        except ValueError as exc:  # every term below min_df
            raise DatasetError(f"TF-IDF found no term in two or more training texts: {exc}") from exc
        features = {"tfidf": {"ngram_range": [1, 2], "sublinear_tf": True, "min_df": 2},
                    "vocabulary_size": len(vectorizer.vocabulary_)}
        return (lambda inputs: vectorizer.transform(list(inputs))), features

    return _run("tfidf_logreg", splits, seed, dataset_name, prepare)


def pixels_logreg(splits: Splits, seed: int, dataset_name: str) -> RunResult:
    """Logistic regression on raw pixels scaled to ``[0, 1]`` and flattened.

    Inputs are a uint8 array ``(N, H, W[, C])`` or a sequence of equally shaped uint8 arrays;
    encoded images (bytes or file paths) are decoded to RGB and resized to
    ``PIXEL_SIDE`` × ``PIXEL_SIDE`` first.

    Args:
        splits: Image splits.
        seed: Seed of the run.
        dataset_name: Name the dataset is reported under.

    Returns:
        The ``pixels_logreg`` run.

    Raises:
        DatasetError: See :func:`run_baseline`.
        MissingDependencyError: See :func:`run_baseline`.
    """

    def prepare(train_inputs: Any) -> tuple[Featurise, dict]:
        shape = _pixel_array(train_inputs[:1]).shape[1:]
        return _pixel_matrix, {"pixels": {"shape": list(shape), "scale": "1/255"}}

    return _run("pixels_logreg", splits, seed, dataset_name, prepare)


def _run(method: str, splits: Splits, seed: int, dataset_name: str,
         prepare: Callable[[Any], tuple[Featurise, dict]]) -> RunResult:
    for part in ("train", "val", "test"):
        _require_labelled(getattr(splits, part), part)
    if len(np.unique(splits.train.labels)) < 2:
        raise DatasetError("the training split holds a single class; a classifier needs two or more")
    fit = _fit(splits, seed, prepare)
    test = splits.test
    predict = _predictor(fit)
    quality = quality_from_predictions(test.labels, predict(test.inputs), test.label_names)
    latency_ms, throughput = measure_speed(predict, test.inputs)
    n_coef = int(fit.classifier.coef_.size + fit.classifier.intercept_.size)
    return RunResult(
        method=method,
        family="baseline",
        ptm="none",
        dataset=dataset_name,
        seed=seed,
        data_fingerprint=splits.fingerprint,
        quality=quality,
        val_quality=fit.val_quality,
        cost=Cost(trainable_params=n_coef, total_params=n_coef, train_seconds=fit.train_seconds,
                  epoch_seconds=None, peak_memory_mb=fit.peak_memory_mb,
                  latency_ms_b1=latency_ms, throughput_b32=throughput),
        config={"classifier": "logistic_regression", "solver": "lbfgs", "max_iter": MAX_ITER,
                "C_grid": list(C_GRID), "C": fit.c, "selected_by": "val macro_f1",
                **fit.features},
    )


def _fit(splits: Splits, seed: int, prepare: Callable[[Any], tuple[Featurise, dict]]) -> _Fit:
    """Featurise, fit one classifier per C and keep the best on validation; time and measure it all."""
    try:
        from sklearn.linear_model import LogisticRegression
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise MissingDependencyError("the baselines need scikit-learn: pip install 'zhijian[train]'") from exc
    train, val = splits.train, splits.val
    with PeakRss() as memory:
        start = time.perf_counter()
        transform, features = prepare(train.inputs)
        x_train, x_val = transform(train.inputs), transform(val.inputs)
        best: tuple[float, Any, Quality] | None = None
        for c in C_GRID:
            classifier = LogisticRegression(C=c, max_iter=MAX_ITER, random_state=seed)
            classifier.fit(x_train, train.labels)
            quality = quality_from_predictions(val.labels, classifier.predict(x_val), val.label_names)
            if best is None or quality.macro_f1 > best[2].macro_f1:
                best = (c, classifier, quality)
        seconds = time.perf_counter() - start
    assert best is not None
    return _Fit(transform=transform, classifier=best[1], c=best[0], val_quality=best[2],
                train_seconds=seconds, peak_memory_mb=memory.peak_mb, features=features)


def _predictor(fit: _Fit) -> Callable[[Any], np.ndarray]:
    def predict(inputs: Any) -> np.ndarray:
        return fit.classifier.predict(fit.transform(inputs))

    return predict


def measure_speed(predict: Callable[[Any], np.ndarray], inputs: Any) -> tuple[float, float]:
    """Median batch-1 latency and batch-32 throughput of a predictor on raw inputs.

    Each timed call includes featurisation. Examples are taken in order, cycling when there are
    fewer than needed; three untimed calls warm up first.

    Args:
        predict: Raw inputs (a slice of ``inputs``) to predicted class indices.
        inputs: Raw examples (a list or an array), at least one.

    Returns:
        ``(latency_ms_b1, throughput_b32)``: the median over ``LATENCY_REPEATS`` single-example
        calls in milliseconds, and 32 divided by the median over ``THROUGHPUT_REPEATS`` calls on
        32 examples, in examples per second.
    """
    n = len(inputs)
    for i in range(3):
        predict(_take(inputs, [i % n]))
    singles = []
    for i in range(LATENCY_REPEATS):
        batch = _take(inputs, [i % n])
        start = time.perf_counter()
        predict(batch)
        singles.append(time.perf_counter() - start)
    batches = []
    for k in range(THROUGHPUT_REPEATS):
        batch = _take(inputs, [(32 * k + j) % n for j in range(32)])
        start = time.perf_counter()
        predict(batch)
        batches.append(time.perf_counter() - start)
    return 1000.0 * statistics.median(singles), 32.0 / statistics.median(batches)


def _take(inputs: Any, indices: list[int]) -> Any:
    if isinstance(inputs, np.ndarray):
        return inputs[np.asarray(indices)]
    return [inputs[i] for i in indices]


def _pixel_matrix(inputs: Any) -> np.ndarray:
    array = _pixel_array(inputs)
    return array.reshape(len(array), -1).astype(np.float32) / 255.0


def _pixel_array(inputs: Any) -> np.ndarray:
    if isinstance(inputs, np.ndarray):
        array = inputs
    else:
        items = [_decode(item) for item in inputs]
        shapes = {item.shape for item in items}
        if len(shapes) > 1:
            raise DatasetError(f"pixels_logreg needs images of one shape, got {sorted(shapes)[:3]}; "
                               "resize the arrays to one size first")
        array = np.stack(items) if items else np.zeros((0, 1), dtype=np.uint8)
    if array.dtype != np.uint8:
        raise DatasetError(f"pixels_logreg reads uint8 pixels, got dtype {array.dtype}")
    return array


def _decode(item: Any) -> np.ndarray:
    if isinstance(item, np.ndarray):
        return item
    if isinstance(item, (bytes, Path)):
        from PIL import Image

        source = io.BytesIO(item) if isinstance(item, bytes) else item
        try:
            with Image.open(source) as image:
                rgb = image.convert("RGB").resize((PIXEL_SIDE, PIXEL_SIDE))
        except OSError as exc:
            raise DatasetError(f"cannot decode an image for pixels_logreg: {exc}") from exc
        return np.asarray(rgb, dtype=np.uint8)
    raise DatasetError(f"pixels_logreg reads uint8 arrays, bytes or paths, not {type(item).__name__}")


def _require_text(dataset: Dataset) -> None:
    if isinstance(dataset.inputs, np.ndarray) or not all(isinstance(t, str) for t in dataset.inputs):
        raise DatasetError("tfidf_logreg reads a list of strings; this dataset's inputs are not text")


def _require_labelled(dataset: Dataset, part: str) -> None:
    if len(dataset) == 0:
        raise DatasetError(f"the {part} split is empty; the baseline needs examples in train, val "
                           "and test (C is chosen on val)")
    if (dataset.labels < 0).any():
        raise DatasetError(f"the {part} split holds unlabelled examples (label -1); label them or "
                           "leave them out of the split")

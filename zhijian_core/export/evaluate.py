"""The bundle evaluates itself: its ONNX session and its preprocessing on raw test inputs.

What is measured here is exactly what the service runs: the graph file of the bundle and the
torch-free preprocessing module built from the manifest's spec and the bundle's own assets.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from zhijian_core.bundle.manifest import Evaluation
from zhijian_core.data.dataset import Dataset
from zhijian_core.errors import ExportError
from zhijian_core.export.runtime import cpu_session, median_latency_ms, run_session
from zhijian_core.preprocess import Preprocessor, build_preprocessor
from zhijian_core.preprocess.spec import ImagePreprocessSpec, TextPreprocessSpec
from zhijian_core.train.metrics import quality_from_predictions

EVAL_BATCH_SIZE = 64
LATENCY_REPEATS_B1 = 20
LATENCY_REPEATS_B32 = 5


def _raw_batches(inputs: Sequence[Any] | np.ndarray, batch_size: int) -> Iterator[list[Any]]:
    """Consecutive batches of raw examples (rows of an image array become single images)."""
    for start in range(0, len(inputs), batch_size):
        yield list(inputs[start:start + batch_size])


def _outputs(model: Path, preprocessor: Preprocessor, inputs: Sequence[Any] | np.ndarray,
             output: str) -> np.ndarray:
    session = cpu_session(model)
    parts = [run_session(session, preprocessor(batch))[output]
             for batch in _raw_batches(inputs, EVAL_BATCH_SIZE)]
    return np.concatenate(parts)


def evaluate_classifier(bundle_dir: Path, spec: TextPreprocessSpec | ImagePreprocessSpec,
                        test: Dataset, label_names: Sequence[str],
                        dataset_fingerprint: str, model: Path | None = None) -> Evaluation:
    """Accuracy and macro-F1 of a classification bundle on raw test examples.

    Args:
        bundle_dir: Folder holding ``model.onnx`` and the preprocessing assets.
        spec: The bundle's preprocessing spec (as in its manifest).
        test: The raw, labelled test split.
        label_names: The bundle's labels; must equal the split's.
        dataset_fingerprint: Fingerprint of the split the test examples come from.
        model: The graph to evaluate (the bundle's ``model.onnx`` by default).

    Raises:
        ExportError: The labels differ from the split's, or the split is empty.
    """
    _check_labels(label_names, test)
    preprocessor = build_preprocessor(spec, bundle_dir)
    probabilities = _outputs(model or bundle_dir / "model.onnx", preprocessor, test.inputs,
                             "probabilities")
    quality = quality_from_predictions(test.labels, probabilities.argmax(-1), label_names)
    return Evaluation(dataset_fingerprint=dataset_fingerprint, examples=len(test),
                      accuracy=quality.accuracy, macro_f1=quality.macro_f1)


def evaluate_embedding(bundle_dir: Path, spec: TextPreprocessSpec | ImagePreprocessSpec,
                       train: Dataset, test: Dataset, dataset_fingerprint: str,
                       model: Path | None = None) -> Evaluation:
    """Quality of an embedding bundle as a nearest-class-mean classifier on its own vectors.

    Class means of the bundle's normalized train embeddings classify the test embeddings by
    cosine similarity: a task-free measure of how well the vectors separate the classes.

    Args:
        bundle_dir: Folder holding ``model.onnx`` and the preprocessing assets.
        spec: The bundle's preprocessing spec.
        train: Raw labelled examples the class means come from.
        test: Raw labelled examples scored.
        dataset_fingerprint: Fingerprint of the split both come from.
        model: The graph to evaluate (the bundle's ``model.onnx`` by default).

    Raises:
        ExportError: A split is empty, or a class has no train example.
    """
    _check_labels(train.label_names, test)
    if len(train) == 0:
        raise ExportError("evaluating an embedding bundle needs train examples for the class means")
    preprocessor = build_preprocessor(spec, bundle_dir)
    model = model or bundle_dir / "model.onnx"
    train_vectors = _outputs(model, preprocessor, train.inputs, "embedding")
    counts = np.bincount(train.labels, minlength=train.num_classes)
    if (counts == 0).any():
        absent = [train.label_names[i] for i in np.flatnonzero(counts == 0)]
        raise ExportError(f"classes {absent} have no train example; the class means are undefined")
    means = np.zeros((train.num_classes, train_vectors.shape[1]), dtype=np.float64)
    np.add.at(means, train.labels, train_vectors)
    means /= np.linalg.norm(means, axis=1, keepdims=True).clip(min=1e-12)
    scores = _outputs(model, preprocessor, test.inputs, "embedding") @ means.T
    quality = quality_from_predictions(test.labels, scores.argmax(-1), train.label_names)
    return Evaluation(dataset_fingerprint=dataset_fingerprint, examples=len(test),
                      accuracy=quality.accuracy, macro_f1=quality.macro_f1)


def _check_labels(label_names: Sequence[str], test: Dataset) -> None:
    if tuple(label_names) != tuple(test.label_names):
        raise ExportError(f"the bundle's labels {list(label_names)} differ from the test split's "
                          f"{list(test.label_names)}; refusing to evaluate on different data")
    if len(test) == 0:
        raise ExportError("the test split is empty: nothing to evaluate")


def timing_batches(bundle_dir: Path, spec: TextPreprocessSpec | ImagePreprocessSpec,
                   raw_inputs: Sequence[Any] | np.ndarray
                   ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Preprocessed real batches of 1 and (up to) 32 examples that latencies are measured on.

    The single text keeps its own length, as a single request would.

    Raises:
        ExportError: ``raw_inputs`` is empty.
    """
    if len(raw_inputs) == 0:
        raise ExportError("measuring latency needs at least one real input")
    batch_32 = build_preprocessor(spec, bundle_dir)(list(raw_inputs[:32]))
    batch_1 = {name: array[:1] for name, array in batch_32.items()}
    if "attention_mask" in batch_1:
        length = max(1, int(batch_1["attention_mask"].sum()))
        batch_1 = {name: array[:, :length] for name, array in batch_1.items()}
    return batch_1, batch_32


def measure_latency(bundle_dir: Path, spec: TextPreprocessSpec | ImagePreprocessSpec,
                    raw_inputs: Sequence[Any] | np.ndarray) -> tuple[float, float]:
    """Median ONNX Runtime milliseconds per run at batch 1 and batch 32 on real preprocessed inputs.

    Preprocessing is not timed. With fewer than 32 examples the larger batch holds all of them.

    Args:
        bundle_dir: Folder holding ``model.onnx`` and the preprocessing assets.
        spec: The bundle's preprocessing spec.
        raw_inputs: Real raw examples (at least one).

    Returns:
        ``(latency_ms_b1, latency_ms_b32)``.
    """
    session = cpu_session(bundle_dir / "model.onnx", spinning=True)
    batch_1, batch_32 = timing_batches(bundle_dir, spec, raw_inputs)
    return (median_latency_ms(session, batch_1, LATENCY_REPEATS_B1),
            median_latency_ms(session, batch_32, LATENCY_REPEATS_B32))

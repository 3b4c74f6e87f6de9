"""DataConfig is strict and refuses contradictory settings; Dataset keeps its official test mask."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from zhijian_core.data import DataConfig, Dataset


def test_defaults() -> None:
    config = DataConfig(dataset="airline-tweets")
    assert (config.val_size, config.test_size, config.train_size, config.shots, config.seed) == (
        500, 2000, None, None, 0)


@pytest.mark.parametrize(("fields", "message"), [
    ({"train_size": 10, "shots": 2}, "not both"),
    ({"unknown": 1}, "Extra inputs"),
    ({"seed": -1}, "greater than or equal"),
    ({"test_size": 0}, "greater than 0"),
    ({"dataset": ""}, "at least 1"),
])
def test_invalid_configs(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        DataConfig(**{"dataset": "x", **fields})  # type: ignore[arg-type]


def test_config_is_frozen() -> None:
    with pytest.raises(ValidationError):
        DataConfig(dataset="x").seed = 1  # type: ignore[misc]


def test_official_test_mask_travels_with_subsets() -> None:
    mask = np.array([False, True, True])
    data = Dataset("d", "text", ["a", "b", "c"], np.array([0, 1, 0]), ("x", "y"), mask)
    np.testing.assert_array_equal(data.subset([2, 0]).official_test, [True, False])
    assert data.with_labels(np.array([1, 1, 1])).official_test is mask
    plain = Dataset("d", "text", ["a", "b", "c"], np.array([0, 1, 0]), ("x", "y"))
    assert plain.official_test is None and plain.subset([0]).official_test is None
    assert plain.fingerprint() != data.fingerprint()
    with pytest.raises(ValueError, match="official_test"):
        Dataset("d", "text", ["a"], np.array([0]), ("x",), np.array([1]))

"""Deterministic, fingerprinted train / validation / test splits (plus the rest, a transfer set)."""

from __future__ import annotations

import hashlib
import json

import numpy as np

from zhijian_core.data.config import DataConfig
from zhijian_core.data.dataset import Dataset, Splits
from zhijian_core.errors import DatasetError

SPLIT_NAMES = ("test", "val", "train", "rest")
"""The parts of a split, in the order they are drawn and hashed."""

_SPLIT_FIELDS = {"val_size", "test_size", "train_size", "shots", "seed"}
"""Config fields that decide the split; the dataset's identity is its fingerprint, not its path."""


def split_indices(dataset: Dataset, config: DataConfig) -> dict[str, np.ndarray]:
    """Draw the indices of each part, sorted ascending, from ``config.seed`` alone.

    Test examples are drawn first (only among ``dataset.official_test`` when it marks any), then
    validation examples from the rest (excluding the official test examples), then the training
    examples (``train_size`` of them, ``shots`` per class, or all that is left); ``rest`` is every
    example in none of the three.

    Args:
        dataset: The dataset to split.
        config: Sizes and seed.

    Returns:
        ``{"test", "val", "train", "rest"}`` to int64 index arrays; together a partition of the data.

    Raises:
        DatasetError: The dataset is empty, or a size exceeds what is available (with the numbers).
    """
    n = len(dataset)
    if n == 0:
        raise DatasetError(f"dataset {dataset.name!r} is empty: nothing to split")
    rng = np.random.default_rng(config.seed)
    official = dataset.official_test
    has_official = official is not None and bool(official.any())
    test_pool = np.flatnonzero(official) if has_official else np.arange(n)
    where = "official test examples" if has_official else "examples"
    if config.test_size > len(test_pool):
        raise DatasetError(f"test_size is {config.test_size} but {dataset.name!r} has {len(test_pool)} "
                           f"{where}; lower test_size")
    test = rng.permutation(test_pool)[: config.test_size]

    taken = np.zeros(n, dtype=bool)
    taken[test] = True
    if has_official:
        taken |= official  # the official test examples never train or validate
    pool = rng.permutation(np.flatnonzero(~taken))
    if config.val_size > len(pool):
        raise DatasetError(f"val_size is {config.val_size} but only {len(pool)} examples of "
                           f"{dataset.name!r} remain after the test examples; lower val_size or test_size")
    val, pool = pool[: config.val_size], pool[config.val_size:]

    if config.shots is not None:
        train = _draw_shots(dataset, pool, config.shots)
    elif config.train_size is not None:
        if config.train_size > len(pool):
            raise DatasetError(f"train_size is {config.train_size} but only {len(pool)} examples of "
                               f"{dataset.name!r} remain after test and validation; lower a size")
        train = pool[: config.train_size]
    else:
        train = pool
    rest_mask = np.ones(n, dtype=bool)
    for part in (test, val, train):
        rest_mask[part] = False
    parts = {"test": test, "val": val, "train": train, "rest": np.flatnonzero(rest_mask)}
    return {name: np.sort(parts[name]).astype(np.int64) for name in SPLIT_NAMES}


def _draw_shots(dataset: Dataset, pool: np.ndarray, shots: int) -> np.ndarray:
    """Take the first ``shots`` examples of each class from the (already shuffled) ``pool``."""
    labels = dataset.labels[pool]
    chosen, short = [], []
    for label, name in enumerate(dataset.label_names):
        members = pool[labels == label]
        if len(members) < shots:
            short.append(f"{name!r}: {len(members)}")
        chosen.append(members[:shots])
    if short:
        raise DatasetError(f"shots is {shots} but after test and validation some classes of "
                           f"{dataset.name!r} have fewer examples ({', '.join(short)}); lower shots")
    return np.concatenate(chosen)


def split_fingerprint(dataset_fingerprint: str, indices: dict[str, np.ndarray], config: DataConfig) -> str:
    """SHA-256 over the dataset fingerprint, each part's sorted indices and the split's config fields.

    Args:
        dataset_fingerprint: :meth:`Dataset.fingerprint` of the split dataset.
        indices: The parts, as returned by :func:`split_indices`.
        config: The config the split was drawn with (only its size and seed fields count).
    """
    digest = hashlib.sha256(dataset_fingerprint.encode())
    for name in SPLIT_NAMES:
        digest.update(name.encode())
        digest.update(np.sort(indices[name]).astype("<i8").tobytes())
    digest.update(json.dumps(config.model_dump(include=_SPLIT_FIELDS), sort_keys=True).encode())
    return digest.hexdigest()


def make_splits(dataset: Dataset, config: DataConfig) -> Splits:
    """Split ``dataset`` into train, validation, test and rest, deterministically from ``config.seed``.

    Args:
        dataset: The dataset to split.
        config: Sizes and seed.

    Returns:
        The four parts (each in dataset order), the seed and the split's fingerprint.

    Raises:
        DatasetError: The dataset is empty, or a size exceeds what is available.
    """
    indices = split_indices(dataset, config)
    parts = {name: dataset.subset(indices[name]) for name in SPLIT_NAMES}
    return Splits(train=parts["train"], val=parts["val"], test=parts["test"], rest=parts["rest"],
                  seed=config.seed, fingerprint=split_fingerprint(dataset.fingerprint(), indices, config))

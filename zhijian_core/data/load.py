"""Load the dataset a :class:`DataConfig` names: a named dataset, or a file or folder by its format."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from zhijian_core.data.config import DataConfig
from zhijian_core.data.dataset import Dataset, Splits
from zhijian_core.data.formats import ReadOptions, detect_format
from zhijian_core.data.packaged import NAMED_DATASETS
from zhijian_core.data.splits import make_splits
from zhijian_core.errors import ConfigError, DatasetError

_COLUMN_FORMATS = ("csv", "jsonl")
"""Formats that read ``text_column`` and ``label_column``."""


def load_dataset(config: DataConfig) -> Dataset:
    """Load the dataset ``config.dataset`` names (a name wins over a same-named path).

    Args:
        config: The data config.

    Returns:
        The whole dataset, named ``config.dataset``.

    Raises:
        DatasetError: No such named dataset or path, or the data is missing, malformed or empty.
        ConfigError: Columns are set for a dataset that has none (a named dataset or image data).
    """
    defaults = DataConfig.model_fields
    custom_columns = (config.text_column != defaults["text_column"].default
                      or config.label_column != defaults["label_column"].default)
    named = NAMED_DATASETS.get(config.dataset)
    if named is not None:
        if custom_columns:
            raise ConfigError(f"text_column / label_column do not apply to the named dataset "
                              f"{config.dataset!r}; remove them")
        return named.load()
    path = Path(config.dataset).expanduser()
    if not path.exists():
        raise DatasetError(f"{config.dataset!r} is neither a named dataset ({', '.join(NAMED_DATASETS)}) "
                           f"nor an existing file or folder")
    fmt = detect_format(path)
    if custom_columns and fmt.name not in _COLUMN_FORMATS:
        raise ConfigError(f"text_column / label_column apply only to CSV and JSONL files, not to "
                          f"{fmt.name} data {config.dataset!r}; remove them")
    dataset = fmt.read(path, ReadOptions(text_column=config.text_column,
                                         label_column=config.label_column))
    return replace(dataset, name=config.dataset)


def load_splits(config: DataConfig) -> Splits:
    """Load the dataset ``config`` names and split it (:func:`load_dataset` then :func:`make_splits`).

    Args:
        config: The data config.

    Raises:
        DatasetError: The data cannot be loaded, or the split sizes do not fit it.
        ConfigError: Columns are set for a dataset that has none.
    """
    return make_splits(load_dataset(config), config)

"""Data for the reuse core: typed config, dataset formats, named datasets and deterministic splits.

Torch-free: raw inputs stay raw (strings, uint8 arrays, image paths) until the one preprocessing
module turns them into tensors.
"""

from __future__ import annotations

from zhijian_core.data.config import DataConfig
from zhijian_core.data.dataset import UNLABELLED, Dataset, Splits
from zhijian_core.data.formats import (
    DatasetFormat,
    ReadOptions,
    detect_format,
    register_format,
    registered_formats,
)
from zhijian_core.data.load import load_dataset, load_splits
from zhijian_core.data.packaged import NAMED_DATASETS, NamedDataset
from zhijian_core.data.splits import SPLIT_NAMES, make_splits, split_indices

__all__ = [
    "NAMED_DATASETS",
    "SPLIT_NAMES",
    "UNLABELLED",
    "DataConfig",
    "Dataset",
    "DatasetFormat",
    "NamedDataset",
    "ReadOptions",
    "Splits",
    "detect_format",
    "load_dataset",
    "load_splits",
    "make_splits",
    "register_format",
    "registered_formats",
    "split_indices",
]

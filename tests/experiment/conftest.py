"""A tiny text task and a tiny image task that a comparison finishes in seconds."""

from __future__ import annotations

import csv
import random
from pathlib import Path

import numpy as np
import pytest

from tests.tiny import tiny_bert_dir

POSITIVE = "good great nice love happy fine thanks".split()
NEGATIVE = "bad awful terrible hate sad delay late".split()
FILLER = "the flight plane service crew seat food time was very so".split()


def write_sentiment_csv(path: Path, n: int = 120, seed: int = 0) -> Path:
    """A separable two-class CSV: sentences made of sentiment words plus neutral filler."""
    rng = random.Random(seed)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        for i in range(n):
            label = "positive" if i % 2 else "negative"
            words = rng.sample(POSITIVE if i % 2 else NEGATIVE, 2) + rng.sample(FILLER, 3)
            rng.shuffle(words)
            writer.writerow([" ".join(words) + f" {i}", label])
    return path


def write_idx_images(folder: Path, n: int = 120, side: int = 16, seed: int = 0) -> Path:
    """Two classes of greyscale images (bright top half vs bright bottom half) as idx files."""
    rng = np.random.default_rng(seed)
    labels = (np.arange(n) % 2).astype(np.uint8)
    images = rng.integers(0, 60, size=(n, side, side), dtype=np.uint8)
    for i, y in enumerate(labels):
        rows = slice(0, side // 2) if y == 0 else slice(side // 2, side)
        images[i, rows] += 150
    folder.mkdir(parents=True, exist_ok=True)
    images_path = folder / "tiny-images-idx3-ubyte"
    images_path.write_bytes(np.array([0, 0, 8, 3], np.uint8).tobytes()
                            + np.array([n, side, side], ">u4").tobytes() + images.tobytes())
    (folder / "tiny-labels-idx1-ubyte").write_bytes(
        np.array([0, 0, 8, 1], np.uint8).tobytes() + np.array([n], ">u4").tobytes()
        + labels.tobytes())
    return images_path


@pytest.fixture(scope="session")
def text_task(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """(CSV path, PTM spec) of the tiny sentiment task."""
    root = tmp_path_factory.mktemp("text-task")
    return write_sentiment_csv(root / "tweets.csv"), f"local:{tiny_bert_dir(root / 'bert')}"


@pytest.fixture(scope="session")
def image_task(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """idx images path of the tiny image task."""
    return write_idx_images(tmp_path_factory.mktemp("image-task"))

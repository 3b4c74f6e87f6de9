"""The in-memory dataset: raw inputs, integer labels and label names (torch-free).

Raw inputs stay raw (strings, uint8 pixel arrays, encoded image bytes or file paths) so that the one
preprocessing module turns them into tensors for training, evaluation and serving alike.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Sequence, Union

import numpy as np

Modality = Literal["text", "image"]
RawImage = Union[np.ndarray, bytes, Path]
UNLABELLED = -1
"""Label of an example whose label is unknown (a transfer set before a teacher labels it)."""


@dataclass(frozen=True)
class Dataset:
    """A labelled dataset of raw examples.

    Attributes:
        name: Name it was loaded under (a named dataset or a path).
        modality: ``text`` or ``image``.
        inputs: Raw inputs: a list of ``str`` (text), a uint8 array ``(N, H, W[, C])``, or a list of
            encoded images (``bytes`` or file ``Path``).
        labels: ``int64`` array ``(N,)`` of class indices into ``label_names`` (``-1``: unlabelled).
        label_names: Class names, index ``i`` names label ``i``.
        official_test: Boolean array ``(N,)`` marking the examples of the source's official test
            set (the split draws its test examples from them), or ``None`` when it has none.
    """

    name: str
    modality: Modality
    inputs: Sequence[str] | np.ndarray | Sequence[RawImage]
    labels: np.ndarray
    label_names: tuple[str, ...]
    official_test: np.ndarray | None = None

    def __post_init__(self) -> None:
        if len(self.inputs) != len(self.labels):
            raise ValueError(f"{len(self.inputs)} inputs but {len(self.labels)} labels")
        if self.official_test is not None and (
            self.official_test.dtype != np.bool_ or self.official_test.shape != (len(self.labels),)
        ):
            raise ValueError(
                f"official_test must be a bool array of shape ({len(self.labels)},), got "
                f"{self.official_test.dtype} {self.official_test.shape}")

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def num_classes(self) -> int:
        """Number of classes."""
        return len(self.label_names)

    def subset(self, indices: np.ndarray | Sequence[int]) -> "Dataset":
        """Return the examples at ``indices`` (in that order)."""
        idx = np.asarray(indices, dtype=np.int64)
        if isinstance(self.inputs, np.ndarray):
            inputs = self.inputs[idx]
        else:
            inputs = [self.inputs[i] for i in idx]
        official = None if self.official_test is None else self.official_test[idx]
        return Dataset(self.name, self.modality, inputs, self.labels[idx], self.label_names, official)

    def with_labels(self, labels: np.ndarray) -> "Dataset":
        """Return the same inputs with other labels (for example a teacher's)."""
        return Dataset(self.name, self.modality, self.inputs, np.asarray(labels, dtype=np.int64),
                       self.label_names, self.official_test)

    def fingerprint(self) -> str:
        """SHA-256 over the label names, labels and raw inputs: equal data, equal fingerprint."""
        h = hashlib.sha256()
        h.update("\x1f".join(self.label_names).encode())
        h.update(np.ascontiguousarray(self.labels, dtype=np.int64).tobytes())
        if self.official_test is not None:
            h.update(b"official_test" + np.packbits(self.official_test).tobytes())
        if isinstance(self.inputs, np.ndarray):
            h.update(str(self.inputs.shape).encode())
            h.update(np.ascontiguousarray(self.inputs).tobytes())
        else:
            for item in self.inputs:
                if isinstance(item, str):
                    h.update(item.encode("utf-8", "surrogatepass"))
                elif isinstance(item, bytes):
                    h.update(item)
                elif isinstance(item, Path):
                    h.update(item.read_bytes())
                else:
                    h.update(np.ascontiguousarray(item).tobytes())
                h.update(b"\x1e")
        return h.hexdigest()


@dataclass(frozen=True)
class Splits:
    """Deterministic train / validation / test splits, plus the examples left out of all three.

    Attributes:
        train: Examples to train on (after any subsampling or few-shot selection).
        val: Examples for model selection and early stopping.
        test: Examples reported once, at the end.
        rest: Everything in none of the three (a transfer set for distillation, for example).
        seed: Seed the split was drawn with.
        fingerprint: SHA-256 of the dataset fingerprint and the split's indices.
    """

    train: Dataset
    val: Dataset
    test: Dataset
    rest: Dataset
    seed: int
    fingerprint: str

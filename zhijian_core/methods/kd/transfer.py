"""The transfer set and the teacher/student input check of knowledge distillation (pure helpers)."""

from __future__ import annotations

import numpy as np

from zhijian_core.data.dataset import UNLABELLED, Dataset
from zhijian_core.ptm.loaded import LoadedPTM


def with_transfer_set(train: Dataset, rest: Dataset, size: int | None, seed: int) -> Dataset:
    """Return ``train`` followed by ``size`` examples of ``rest`` relabelled ``UNLABELLED``.

    The examples are drawn with ``seed`` and kept in their order within ``rest``, so the result is
    deterministic. ``train``'s examples keep their positions (indices ``0 .. len(train) - 1``).

    Args:
        train: The labelled training split.
        rest: The examples in no split.
        size: How many examples of ``rest`` to add; ``None`` adds all of them.
        seed: Seed of the draw.

    Raises:
        ValueError: ``size`` exceeds ``len(rest)``.
    """
    size = len(rest) if size is None else size
    if size > len(rest):
        raise ValueError(f"a transfer set of {size} examples was asked for, but only {len(rest)} "
                         "examples are outside the train, validation and test splits")
    if size == 0:
        return train
    chosen = np.sort(np.random.default_rng(seed).permutation(len(rest))[:size])
    transfer = rest.subset(chosen)
    if isinstance(train.inputs, np.ndarray) and isinstance(transfer.inputs, np.ndarray):
        inputs = np.concatenate([train.inputs, transfer.inputs])
    else:
        inputs = list(train.inputs) + list(transfer.inputs)
    labels = np.concatenate([np.asarray(train.labels, dtype=np.int64),
                             np.full(size, UNLABELLED, dtype=np.int64)])
    return Dataset(f"{train.name}+transfer", train.modality, inputs, labels, train.label_names)


def preprocessing_difference(first: LoadedPTM, second: LoadedPTM) -> str | None:
    """Say how two PTMs' preprocessing differs, or ``None`` when it yields identical tensors.

    The specs must be equal field by field; for text, the tokenizer files must also have the same
    bytes (two specs both naming ``tokenizer.json`` may point at different vocabularies).

    Args:
        first: One PTM.
        second: The other PTM.
    """
    a, b = first.preprocess, second.preprocess
    if type(a) is not type(b):
        return f"{first.spec} takes {a.kind} input but {second.spec} takes {b.kind} input"
    fields = [name for name in type(a).model_fields if getattr(a, name) != getattr(b, name)]
    if fields:
        return "their preprocessing differs in " + ", ".join(
            f"{name} ({getattr(a, name)!r} vs {getattr(b, name)!r})" for name in fields)
    if a.kind == "text":
        return _tokenizer_difference(first, second, a.tokenizer_file)
    return None


def _tokenizer_difference(first: LoadedPTM, second: LoadedPTM, file_name: str) -> str | None:
    if first.assets_dir is None and second.assets_dir is None:
        return None
    if first.assets_dir is None or second.assets_dir is None:
        return "only one of them has a tokenizer file, so their tokenizers cannot be compared"
    path_a, path_b = first.assets_dir / file_name, second.assets_dir / file_name
    if path_a.resolve() == path_b.resolve():
        return None
    if path_a.read_bytes() != path_b.read_bytes():
        return f"their tokenizers differ ({path_a} vs {path_b})"
    return None

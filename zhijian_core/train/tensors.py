"""Raw datasets to tensors through the one preprocessing module, and batches over them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Mapping

import numpy as np
import torch
from torch import Tensor

from zhijian_core.data.dataset import Dataset
from zhijian_core.preprocess import build_preprocessor
from zhijian_core.preprocess.spec import ImagePreprocessSpec, TextPreprocessSpec

_CHUNK = 256


@dataclass
class TensorSet:
    """A dataset as tensors: named model inputs ``(N, ...)`` and labels ``(N,)``."""

    inputs: dict[str, Tensor]
    labels: Tensor

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def batch(self, index: Tensor) -> dict[str, Tensor]:
        """The inputs at ``index``; text batches are trimmed to their longest sequence."""
        batch = {name: t[index] for name, t in self.inputs.items()}
        mask = batch.get("attention_mask")
        if mask is not None:
            length = int(mask.sum(dim=1).max().item()) if len(index) else 0
            batch = {name: t[:, :max(length, 1)] for name, t in batch.items()}
        return batch


def tensorize(dataset: Dataset, spec: TextPreprocessSpec | ImagePreprocessSpec,
              assets_dir: Path | None) -> TensorSet:
    """Preprocess every example of ``dataset`` once (text padded to the longest example)."""
    if isinstance(spec, TextPreprocessSpec) and spec.padding != "max_length":
        spec = spec.model_copy(update={"padding": "max_length"})
    preprocessor = build_preprocessor(spec, assets_dir)
    chunks: dict[str, list[np.ndarray]] = {}
    for start in range(0, len(dataset), _CHUNK):
        items = dataset.inputs[start:start + _CHUNK]
        if isinstance(items, np.ndarray):
            items = list(items)
        for name, array in preprocessor(items).items():
            chunks.setdefault(name, []).append(array)
    inputs = {name: torch.from_numpy(np.concatenate(parts)) for name, parts in chunks.items()}
    if "attention_mask" in inputs:  # keep only the columns some example uses
        length = int(inputs["attention_mask"].sum(dim=1).max().item())
        inputs = {name: t[:, :length].contiguous() for name, t in inputs.items()}
    return TensorSet(inputs, torch.as_tensor(np.asarray(dataset.labels), dtype=torch.long))


def iterate_batches(size: int, batch_size: int, generator: torch.Generator | None
                    ) -> Iterator[Tensor]:
    """Index batches over ``range(size)``: shuffled with ``generator``, in order without one."""
    order = torch.randperm(size, generator=generator) if generator is not None else torch.arange(size)
    for start in range(0, size, batch_size):
        yield order[start:start + batch_size]


def to_device(batch: Mapping[str, Tensor], device: torch.device) -> dict[str, Tensor]:
    """Move every tensor of a batch to ``device``."""
    return {name: t.to(device, non_blocking=True) for name, t in batch.items()}

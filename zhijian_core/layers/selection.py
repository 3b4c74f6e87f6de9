"""Head2Toe's selected features: chosen entries of every block's pooled, layer-scaled output."""

from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor, nn


class FeatureSelection(nn.Module):
    """Concatenate per-block pooled features, each divided by its layer's scale; keep ``index``.

    The layer scales are a buffer stored with the weights (computed on the training set when the
    method builds the target); the selected indices are part of the architecture.

    Args:
        layer_dims: Size of each block's pooled features, in block order.
        index: Positions kept from the concatenation (sorted, distinct).
    """

    def __init__(self, layer_dims: Sequence[int], index: Sequence[int]) -> None:
        super().__init__()
        self.layer_dims = tuple(int(d) for d in layer_dims)
        self.register_buffer("scales", torch.ones(len(self.layer_dims)))
        self.register_buffer("index", torch.as_tensor(list(index), dtype=torch.long),
                             persistent=False)

    @property
    def num_features(self) -> int:
        """Number of selected features."""
        return int(self.index.numel())

    def concatenate(self, layers: Sequence[Tensor]) -> Tensor:
        """All candidate features ``(B, sum(layer_dims))``, each layer divided by its scale."""
        if tuple(f.shape[-1] for f in layers) != self.layer_dims:
            raise ValueError(f"expected pooled features of sizes {self.layer_dims}, got "
                             f"{tuple(f.shape[-1] for f in layers)}")
        return torch.cat([f / self.scales[i] for i, f in enumerate(layers)], dim=-1)

    def forward(self, layers: Sequence[Tensor]) -> Tensor:
        return self.concatenate(layers).index_select(-1, self.index)

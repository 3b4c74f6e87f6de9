"""The target model every classification method trains and finalizes: a backbone plus a head.

Its architecture is described by :class:`ArchitectureConfig`, a small JSON-able config from which a
stored run is rebuilt (a random-init skeleton of the PTM, then the stored safetensors weights):
nothing is ever unpickled.
"""

from __future__ import annotations

from typing import Literal, Mapping

import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, PositiveInt
from torch import Tensor, nn

from zhijian_core.ptm.backbone import Backbone


class ArchitectureConfig(BaseModel):
    """Everything needed to rebuild a finalized classifier's module before loading its weights."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ptm: str
    """PTM spec string of the backbone (loaded as a random-init skeleton when rebuilding)."""
    num_classes: PositiveInt
    """Number of output classes of the head."""
    feature_norm: Literal["none", "l2"] = "none"
    """Normalisation of the pooled features before the head (``l2`` for nearest-class-mean)."""


class ReuseClassifier(nn.Module):
    """``head(norm(backbone(batch)))``: logits ``(B, num_classes)`` for a batch of named tensors.

    A batch may carry precomputed pooled ``features`` instead of the backbone's inputs; the
    backbone is then skipped (used to train heads on cached frozen features).
    """

    def __init__(self, backbone: Backbone, num_classes: int,
                 feature_norm: Literal["none", "l2"] = "none") -> None:
        super().__init__()
        self.backbone = backbone
        self.head = nn.Linear(backbone.feature_dim, num_classes)
        self.feature_norm = feature_norm

    def forward_features(self, batch: Mapping[str, Tensor]) -> Tensor:
        """Pooled, optionally normalised features ``(B, D)``."""
        feats = batch["features"] if "features" in batch else self.backbone(batch)
        if self.feature_norm == "l2":
            feats = F.normalize(feats, dim=-1)
        return feats

    def forward(self, batch: Mapping[str, Tensor]) -> Tensor:
        return self.head(self.forward_features(batch))

    @property
    def num_classes(self) -> int:
        """Number of output classes."""
        return self.head.out_features

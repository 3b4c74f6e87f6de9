"""The target model every classification method trains and finalizes: a backbone plus a head.

Its architecture is described by :class:`ArchitectureConfig`, a small JSON-able config from which a
stored run is rebuilt (a random-init skeleton of the PTM, changed as the config says, then the
stored safetensors weights): nothing is ever unpickled. :func:`build_classifier` is that rebuild,
and methods that change the backbone's structure build their target with it too.
"""

from __future__ import annotations

from typing import Literal, Mapping

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, PositiveInt
from torch import Tensor, nn

from zhijian_core.layers.selection import FeatureSelection
from zhijian_core.layers.specs import FeatureSelectionSpec, Insertion
from zhijian_core.ptm.backbone import Backbone


class ArchitectureConfig(BaseModel):
    """Everything needed to rebuild a finalized classifier's module before loading its weights.

    The structural fields default to "unchanged", so configs written before they existed still
    read (and rebuild) as they did.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    ptm: str
    """PTM spec string of the backbone (loaded as a random-init skeleton when rebuilding)."""
    num_classes: PositiveInt
    """Number of output classes of the head."""
    feature_norm: Literal["none", "l2", "cl2n"] = "none"
    """Normalisation of the pooled features before the head (``l2`` for nearest-class-mean;
    ``cl2n``: subtract the stored ``feature_center`` buffer, then L2-normalise, for SimpleShot)."""
    kept_blocks: PositiveInt | None = None
    """Keep only the backbone's first ``kept_blocks`` block groups (a graft); ``None``: all."""
    insertions: tuple[Insertion, ...] = ()
    """Modules inserted into the backbone (adapters, unmerged scale-shifts, prompts), in the order
    they are applied (after truncation)."""
    feature_selection: FeatureSelectionSpec | None = None
    """The head reads these features selected from every block's pooled output instead of the
    backbone's pooled features (Head2Toe)."""


class ReuseClassifier(nn.Module):
    """``head(norm(backbone(batch)))``: logits ``(B, num_classes)`` for a batch of named tensors.

    A batch may carry precomputed pooled ``features`` instead of the backbone's inputs; the
    backbone is then skipped (used to train heads on cached frozen features). With a
    ``selection``, the head reads selected features of every block instead (see
    :class:`~zhijian_core.layers.selection.FeatureSelection`).
    """

    def __init__(self, backbone: Backbone, num_classes: int,
                 feature_norm: Literal["none", "l2", "cl2n"] = "none",
                 selection: FeatureSelection | None = None) -> None:
        super().__init__()
        self.backbone = backbone
        self.selection = selection
        width = backbone.feature_dim if selection is None else selection.num_features
        self.head = nn.Linear(width, num_classes)
        self.feature_norm = feature_norm
        if feature_norm == "cl2n":
            self.register_buffer("feature_center", torch.zeros(width))

    def forward_features(self, batch: Mapping[str, Tensor]) -> Tensor:
        """Pooled (or selected), optionally normalised features ``(B, D)``."""
        if "features" in batch:
            feats = batch["features"]
        elif self.selection is not None:
            feats = self.selection(self.backbone.pooled_intermediates(batch))
        else:
            feats = self.backbone(batch)
        if self.feature_norm == "cl2n":
            feats = feats - self.feature_center
        if self.feature_norm in ("l2", "cl2n"):
            feats = F.normalize(feats, dim=-1)
        return feats

    def forward(self, batch: Mapping[str, Tensor]) -> Tensor:
        return self.head(self.forward_features(batch))

    @property
    def num_classes(self) -> int:
        """Number of output classes."""
        return self.head.out_features


def shape_backbone(architecture: ArchitectureConfig, backbone: Backbone) -> Backbone:
    """Truncate ``backbone`` and insert modules as ``architecture`` says (in place); return it.

    Raises:
        PTMError: The backbone cannot be truncated, or does not take prompts.
        ValueError: An insertion's target is missing or of the wrong kind.
    """
    from zhijian_core.layers.insert import apply_insertion

    if architecture.kept_blocks is not None:
        backbone.truncate(architecture.kept_blocks)
    for insertion in architecture.insertions:
        apply_insertion(backbone, insertion)
    return backbone


def build_classifier(architecture: ArchitectureConfig, backbone: Backbone) -> ReuseClassifier:
    """The classifier ``architecture`` describes, on ``backbone`` (changed in place).

    Given a random-init skeleton of ``architecture.ptm``, the result has exactly the state-dict
    keys of the stored module, ready for its weights.
    """
    shape_backbone(architecture, backbone)
    selection = None
    if architecture.feature_selection is not None:
        spec = architecture.feature_selection
        selection = FeatureSelection(spec.layer_dims, spec.index)
    return ReuseClassifier(backbone, architecture.num_classes, architecture.feature_norm, selection)

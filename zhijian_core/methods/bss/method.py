"""Batch Spectral Shrinkage: cross-entropy plus a penalty on the smallest singular values."""

from __future__ import annotations

from typing import Mapping

import torch.nn.functional as F
from torch import Tensor, nn

from zhijian_core.methods.base import Family, MethodContext, ReuseMethod, trainable_copy
from zhijian_core.methods.bss.config import BSSConfig
from zhijian_core.methods.bss.penalty import spectral_shrinkage
from zhijian_core.methods.registry import register


@register
class BatchSpectralShrinkage(ReuseMethod):
    """Fine-tune everything with ``CE + η Σ_{i=1..k} σ²_{-i}(F)``, ``F`` the batch's features.

    Paper: Chen, Wang, Fu, Long & Wang, "Catastrophic Forgetting Meets Negative Transfer: Batch
    Spectral Shrinkage for Safe Transfer Learning", NeurIPS 2019. The spectral components of the
    pooled features with small singular values carry the non-transferable knowledge that causes
    negative transfer; shrinking them suppresses it. ``F`` is the ``(B, D)`` matrix of pooled
    features that feed the head, so the penalty's gradient reaches every backbone parameter.

    ``default_train``: learning rate 5e-5, as full fine-tuning.
    """

    name = "bss"
    family = Family.TUNER
    paper = ('Chen, Wang, Fu, Long & Wang, "Catastrophic Forgetting Meets Negative Transfer: '
             'Batch Spectral Shrinkage for Safe Transfer Learning", NeurIPS 2019')
    config_class = BSSConfig
    default_train = {"lr": 5e-5}
    config: BSSConfig

    def build(self, ctx: MethodContext) -> nn.Module:
        """A classifier on a copy of the PTM's backbone; all but its source classifier train."""
        self.check_applicable(ctx.ptm)
        return trainable_copy(ctx.ptm, ctx.num_classes)

    def loss(self, model: nn.Module, batch: Mapping[str, Tensor], labels: Tensor,
             indices: Tensor) -> Tensor:
        """Cross-entropy on the batch plus ``η`` times the spectral shrinkage of its features."""
        features = model.forward_features(batch)
        logits = model.head(features)
        penalty = spectral_shrinkage(features, self.config.k)
        return F.cross_entropy(logits.float(), labels) + self.config.eta * penalty

"""Linear probing: freeze the backbone, train a new linear head on its pooled features."""

from __future__ import annotations

from torch import nn

from zhijian_core.methods.base import Family, MethodContext, ReuseMethod
from zhijian_core.methods.linear_probe.config import LinearProbeConfig
from zhijian_core.methods.registry import register
from zhijian_core.model import ReuseClassifier
from zhijian_core.ptm.backbone import freeze


@register
class LinearProbe(ReuseMethod):
    """Logistic regression on frozen PTM features (the head is the only trainable part).

    Paper: Kornblith, Shlens & Le, "Do Better ImageNet Models Transfer Better?", CVPR 2019 (the
    "fixed feature extractor" protocol).

    Because the backbone is frozen, the trainer caches its features once and trains the head on
    batches ``{"features": (B, D)}``; ``default_train`` is therefore that of a convex, cheap
    problem: many epochs (each is a pass over a small feature matrix), a high learning rate (a
    fresh linear layer on unnormalised features, no pre-trained weights to preserve), no warm-up
    (nothing pre-trained can be destroyed by a large first step), a small weight decay as the
    L2 penalty of logistic regression, and larger batches.
    """

    name = "linear_probe"
    family = Family.ARCHITECT
    paper = ('Kornblith, Shlens & Le, "Do Better ImageNet Models Transfer Better?", CVPR 2019')
    config_class = LinearProbeConfig
    frozen_backbone = True
    default_train = {"lr": 1e-2, "epochs": 50, "batch_size": 64, "weight_decay": 1e-4,
                     "warmup_ratio": 0.0}

    def build(self, ctx: MethodContext) -> nn.Module:
        """A classifier on ``ctx.ptm`` whose head alone trains."""
        self.check_applicable(ctx.ptm)
        model = ReuseClassifier(ctx.ptm.backbone, ctx.num_classes)
        freeze(model.backbone)
        return model

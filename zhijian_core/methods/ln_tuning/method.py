"""LayerNorm / BatchNorm tuning: freeze the PTM but its normalisation layers' gains and shifts."""

from __future__ import annotations

from torch import nn

from zhijian_core.methods.base import Family, MethodContext, ReuseMethod
from zhijian_core.methods.ln_tuning.config import LNTuningConfig
from zhijian_core.methods.registry import register
from zhijian_core.methods.structure import NORM_TYPES, frozen_target
from zhijian_core.ptm.backbone import unfreeze


def norm_layers(module: nn.Module) -> list[nn.Module]:
    """The normalisation layers of ``module`` (layer, group, RMS and batch norms)."""
    return [m for m in module.modules() if isinstance(m, NORM_TYPES)]


@register
class LNTuning(ReuseMethod):
    """Train the affine parameters (gain and shift) of every normalisation layer, and a head.

    Paper: Qi, Ruan, Zuo & Li, "Parameter-Efficient Tuning on Layer Normalization for Pre-trained
    Language Models", arXiv:2211.08682 2022 (LayerNorm tuning of transformers). On CNNs the same
    recipe tunes the batch norms, as in Frankle, Schwab & Morcos, "Training BatchNorm and Only
    BatchNorm", ICLR 2021. Their running statistics stay the PTM's by default (they are what the
    frozen weights were trained with; re-estimating them on a small task set cost 12 points on
    Fashion-MNIST); ``norm_statistics: task`` re-estimates them, as Frankle et al. do from scratch.
    The finalized model has the PTM's structure.

    ``default_train``: peak learning rate 1e-3, far above full fine-tuning's: only gains and
    shifts move, and the new head must learn within few epochs.
    """

    name = "ln_tuning"
    family = Family.ARCHITECT
    paper = ('Qi, Ruan, Zuo & Li, "Parameter-Efficient Tuning on Layer Normalization for '
             'Pre-trained Language Models", arXiv:2211.08682 2022')
    config_class = LNTuningConfig
    default_train = {"lr": 1e-3}
    config: LNTuningConfig

    def build(self, ctx: MethodContext) -> nn.Module:
        """A classifier on a copy of the backbone in which only normalisation layers train."""
        self.check_applicable(ctx.ptm)
        model = frozen_target(ctx.ptm, self.architecture(ctx))
        for layer in norm_layers(model.backbone):
            unfreeze(layer)
        if self.config.train_head:
            unfreeze(model.head)
        return model

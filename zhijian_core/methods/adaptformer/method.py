"""AdaptFormer: ``MLP(x) + s · up(relu(down(x)))`` in every transformer block."""

from __future__ import annotations

from torch import nn

from zhijian_core.layers.specs import ParallelAdapterSpec
from zhijian_core.methods.adaptformer.config import AdaptFormerConfig
from zhijian_core.methods.base import Family, MethodContext, ReuseMethod
from zhijian_core.methods.registry import register
from zhijian_core.methods.structure import capability, frozen_target, unfreeze_named
from zhijian_core.model import ArchitectureConfig
from zhijian_core.ptm.backbone import unfreeze
from zhijian_core.ptm.loaded import LoadedPTM

NEEDS = "transformer blocks with an MLP sublayer"


@register
class AdaptFormer(ReuseMethod):
    """A bottleneck branch beside each block's MLP, scaled by ``s``; the PTM frozen.

    Paper: Chen, Ge, Tong, Wang, Song, Wang & Luo, "AdaptFormer: Adapting Vision Transformers for
    Scalable Visual Recognition", NeurIPS 2022. The branch reads the MLP's input and its output is
    added to the MLP's, ``x_l = MLP(LN(x')) + s · ReLU(LN(x') W_down) W_up + x'``;
    ``W_down`` starts Kaiming-initialised and ``W_up`` at zero, so the model starts as the PTM. In
    a post-norm BERT layer, the branch reads the attention output (the MLP's input) and joins the
    residual sum before the output layer norm. Branches and head train; the finalized model keeps
    the branches as plain layers.

    Transformers only: a CNN has no MLP sublayer (:class:`NotApplicableError`).

    ``default_train``: peak learning rate 1e-3: the branches start at zero and must grow within
    few epochs, as LoRA's factors do.
    """

    name = "adaptformer"
    family = Family.ARCHITECT
    paper = ('Chen, Ge, Tong, Wang, Song, Wang & Luo, "AdaptFormer: Adapting Vision Transformers '
             'for Scalable Visual Recognition", NeurIPS 2022')
    config_class = AdaptFormerConfig
    applies_to = frozenset({"text", "vit"})
    default_train = {"lr": 1e-3}
    config: AdaptFormerConfig

    def check_applicable(self, ptm: LoadedPTM) -> None:
        """Refuse a backbone without MLP sublayers, naming what is missing."""
        capability(self.name, ptm, NEEDS, ptm.backbone.mlp_modules)

    def architecture(self, ctx: MethodContext) -> ArchitectureConfig:
        """The PTM with a parallel branch beside every MLP."""
        targets, residual_input = capability(self.name, ctx.ptm, NEEDS,
                                             ctx.ptm.backbone.mlp_modules)
        spec = ParallelAdapterSpec(targets=tuple(targets), hidden=self.config.bottleneck,
                                   scale=self.config.scale, residual_input=residual_input)
        return ArchitectureConfig(ptm=ctx.ptm.spec, num_classes=ctx.num_classes,
                                  insertions=(spec,))

    def build(self, ctx: MethodContext) -> nn.Module:
        """The frozen PTM with the branches; branches and head train."""
        model = frozen_target(ctx.ptm, self.architecture(ctx))
        unfreeze_named(model, lambda name, _: ".branch." in name)
        if self.config.train_head:
            unfreeze(model.head)
        return model

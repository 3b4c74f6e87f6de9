"""Houlsby adapters: ``y + up(gelu(down(y)))`` after the projection ending each sublayer."""

from __future__ import annotations

from torch import nn

from zhijian_core.layers.specs import SerialAdapterSpec
from zhijian_core.methods.adapter.config import AdapterConfig
from zhijian_core.methods.base import Family, MethodContext, ReuseMethod
from zhijian_core.methods.registry import register
from zhijian_core.methods.structure import capability, frozen_target, unfreeze_named
from zhijian_core.model import ArchitectureConfig
from zhijian_core.ptm.backbone import unfreeze
from zhijian_core.ptm.loaded import LoadedPTM

NEEDS = "transformer blocks with attention and MLP sublayers"


@register
class Adapter(ReuseMethod):
    """Bottleneck adapters inserted twice per transformer layer, the PTM frozen.

    Paper: Houlsby, Giurgiu, Jastrzebski, Morrone, de Laroussilhe, Gesmundo, Attariyan & Gelly,
    "Parameter-Efficient Transfer Learning for NLP", ICML 2019. An adapter follows the projection
    that ends the attention sublayer and the one that ends the MLP sublayer, before the residual
    sum (figure 2): ``y + W_up gelu(W_down y)``. Its weights start near zero, so the network
    starts near the PTM. The adapters, the layer norms (as in the paper) and the head train. The
    finalized model keeps the adapters as plain layers; its architecture lists where they are.

    Transformers only: a CNN has no attention or MLP sublayer (:class:`NotApplicableError`).

    ``default_train``: peak learning rate 3e-4, the middle of the paper's grid
    {3e-5, 3e-4, 3e-3}.
    """

    name = "adapter"
    family = Family.ARCHITECT
    paper = ('Houlsby, Giurgiu, Jastrzebski, Morrone, de Laroussilhe, Gesmundo, Attariyan & '
             'Gelly, "Parameter-Efficient Transfer Learning for NLP", ICML 2019')
    config_class = AdapterConfig
    applies_to = frozenset({"text", "vit"})
    default_train = {"lr": 3e-4}
    config: AdapterConfig

    def check_applicable(self, ptm: LoadedPTM) -> None:
        """Refuse a backbone without attention and MLP sublayers, naming what is missing."""
        capability(self.name, ptm, NEEDS, ptm.backbone.sublayer_projections)

    def architecture(self, ctx: MethodContext) -> ArchitectureConfig:
        """The PTM with a serial adapter after every sublayer projection."""
        targets = capability(self.name, ctx.ptm, NEEDS, ctx.ptm.backbone.sublayer_projections)
        spec = SerialAdapterSpec(targets=tuple(targets), hidden=self.config.bottleneck)
        return ArchitectureConfig(ptm=ctx.ptm.spec, num_classes=ctx.num_classes,
                                  insertions=(spec,))

    def build(self, ctx: MethodContext) -> nn.Module:
        """The frozen PTM with adapters; adapters, layer norms (optionally) and head train."""
        model = frozen_target(ctx.ptm, self.architecture(ctx))
        unfreeze_named(model, lambda name, _: ".adapter." in name)
        if self.config.train_layer_norms:
            for module in model.backbone.modules():
                if isinstance(module, nn.LayerNorm):
                    unfreeze(module)
        if self.config.train_head:
            unfreeze(model.head)
        return model

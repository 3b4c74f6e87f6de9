"""BitFit: freeze every weight of the PTM but its bias terms."""

from __future__ import annotations

from torch import nn

from zhijian_core.methods.base import Family, MethodContext, ReuseMethod
from zhijian_core.methods.bitfit.config import BitFitConfig
from zhijian_core.methods.registry import register
from zhijian_core.methods.structure import frozen_target, unfreeze_named
from zhijian_core.ptm.backbone import unfreeze


def bias_names(model: nn.Module, exclude: nn.Module | None = None) -> list[str]:
    """Names of the bias parameters of ``model`` (every ``*.bias``), outside ``exclude``."""
    skip = {id(p) for p in exclude.parameters()} if exclude is not None else set()
    return [name for name, p in model.named_parameters()
            if name.rsplit(".", 1)[-1] == "bias" and id(p) not in skip]


@register
class BitFit(ReuseMethod):
    """Train the bias terms only: of every linear, convolution and normalisation layer.

    Paper: Ben Zaken, Ravfogel & Goldberg, "BitFit: Simple Parameter-efficient Fine-tuning for
    Transformer-based Masked Language-models", ACL 2022. All bias vectors of the encoder train
    (attention query/key/value and output, both MLP layers, LayerNorm shifts), with the new head;
    the weights stay frozen. In a CNN the convolutions that feed a batch norm have no bias, so the
    biases are mostly the batch norms' shifts (plus those of bias-carrying convolutions, such as
    squeeze-excitation ones), trained over the PTM's batch-norm statistics (``norm_statistics``).
    The finalized model is the PTM's structure with new biases.

    The key bias gets a zero gradient by construction (a shift shared by all keys of a query
    cancels in the softmax); the paper trains it anyway, and so do we.

    ``default_train``: peak learning rate 1e-3, the top of the paper's search range (1e-4 to
    1e-3): few, additive parameters need larger steps than full fine-tuning.
    """

    name = "bitfit"
    family = Family.ARCHITECT
    paper = ('Ben Zaken, Ravfogel & Goldberg, "BitFit: Simple Parameter-efficient Fine-tuning '
             'for Transformer-based Masked Language-models", ACL 2022')
    config_class = BitFitConfig
    default_train = {"lr": 1e-3}
    config: BitFitConfig

    def build(self, ctx: MethodContext) -> nn.Module:
        """A classifier on a copy of the backbone in which only the biases (and head) train."""
        self.check_applicable(ctx.ptm)
        model = frozen_target(ctx.ptm, self.architecture(ctx))
        trainable = set(bias_names(model.backbone, model.backbone.source_classifier()))
        unfreeze_named(model.backbone, lambda name, _: name in trainable)
        if self.config.train_head:
            unfreeze(model.head)
        return model

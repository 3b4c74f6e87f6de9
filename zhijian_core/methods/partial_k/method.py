"""Partial fine-tuning: freeze the PTM but its last k block groups (and its final norm)."""

from __future__ import annotations

import copy

from torch import nn

from zhijian_core.errors import NotApplicableError
from zhijian_core.methods.base import Family, MethodContext, ReuseMethod
from zhijian_core.methods.partial_k.config import PartialKConfig
from zhijian_core.methods.registry import register
from zhijian_core.model import ReuseClassifier
from zhijian_core.ptm.backbone import Backbone, freeze, unfreeze
from zhijian_core.ptm.loaded import LoadedPTM

# Module types that may follow the last block group on the feature path: normalisation layers and
# the convolution that EfficientNet-style networks apply before pooling.
_TAIL_TYPES: tuple[type[nn.Module], ...] = (
    nn.LayerNorm, nn.GroupNorm, nn.RMSNorm, nn.modules.batchnorm._BatchNorm,
    nn.modules.conv._ConvNd)


def tail_modules(backbone: Backbone) -> list[nn.Module]:
    """The layers after the last block group that refine its output; they train with the last k.

    Rule: take the direct children of ``backbone.model`` registered after the child that holds the
    last block group, and keep those that are normalisation layers (layer, group, RMS or batch norm)
    or convolutions, except the PTM's own classifier. This picks a ViT's final ``norm``/``fc_norm``
    and an EfficientNet's ``conv_head``/``bn2``; it leaves out poolers, dropouts and classifiers
    (a BERT pooler is not on the mean-pooled feature path), and it is empty for a post-norm BERT or
    a ResNet, whose last block is the last layer before pooling.

    Args:
        backbone: The backbone behind the protocol.

    Returns:
        The tail modules, in registration order (possibly empty).
    """
    last = backbone.block_groups()[-1]
    children = list(backbone.model.children())
    holder = next((i for i, child in enumerate(children)
                   if any(m is last for m in child.modules())), None)
    if holder is None:
        return []
    classifier = backbone.source_classifier()
    return [child for child in children[holder + 1:]
            if isinstance(child, _TAIL_TYPES) and child is not classifier]


@register
class PartialK(ReuseMethod):
    """Fine-tune the top of the network only: the last ``k`` block groups, final norm and a head.

    Paper: Yosinski, Clune, Bengio & Lipson, "How transferable are features in deep neural
    networks?", NeurIPS 2014 (lower layers transfer as they are, upper ones are task-specific);
    ZhiJian's "Partial-k" baseline. The trainable layers after the last block group are chosen by
    :func:`tail_modules`.

    ``default_train`` raises the peak learning rate to 1e-4 (twice the full fine-tuning value):
    fewer, higher-level weights move, and the fresh head must learn within few epochs.
    """

    name = "partial_k"
    family = Family.ARCHITECT
    paper = ('Yosinski, Clune, Bengio & Lipson, "How transferable are features in deep neural '
             'networks?", NeurIPS 2014')
    config_class = PartialKConfig
    default_train = {"lr": 1e-4}
    config: PartialKConfig

    def check_applicable(self, ptm: LoadedPTM) -> None:
        """Also refuse a ``k`` larger than the backbone's number of block groups."""
        super().check_applicable(ptm)
        count = len(ptm.backbone.block_groups())
        if self.config.k > count:
            raise NotApplicableError(
                f"method '{self.name}' with k={self.config.k} does not apply to {ptm.spec}: its "
                f"{ptm.backbone.kind} backbone has only {count} block groups; set k to at most "
                f"{count} (k={count} tunes every block; full_finetune also tunes the embeddings)")

    def build(self, ctx: MethodContext) -> nn.Module:
        """A classifier whose last ``k`` block groups, tail modules and head train."""
        self.check_applicable(ctx.ptm)
        # A copy: training changes the weights, and ctx.ptm may serve other runs.
        backbone = copy.deepcopy(ctx.ptm.backbone)
        model = ReuseClassifier(backbone, ctx.num_classes)
        freeze(backbone)
        for module in backbone.block_groups()[-self.config.k:] + tail_modules(backbone):
            unfreeze(module)
        return model

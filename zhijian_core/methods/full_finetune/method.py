"""Full fine-tuning: start from the PTM's weights, train all of them and a new head."""

from __future__ import annotations


from torch import nn

from zhijian_core.methods.base import Family, MethodContext, ReuseMethod, trainable_copy
from zhijian_core.methods.full_finetune.config import FullFinetuneConfig
from zhijian_core.methods.registry import register


@register
class FullFinetune(ReuseMethod):
    """Standard fine-tuning of the whole network, initialised from the PTM.

    Paper: Howard & Ruder, "Universal Language Model Fine-tuning for Text Classification", ACL 2018
    (fine-tuning every layer of a pre-trained model; the warm-up then decay schedule of the trainer
    plays the role of their slanted triangular learning rate).

    ``default_train`` sets a small peak learning rate, 5e-5, the usual value for fine-tuning
    pre-trained transformers (BERT's 2e-5 to 5e-5 range; DeiT/ViT fine-tuning uses the same order):
    larger steps destroy the pre-trained features before the new head has learnt anything. CNNs
    with batch norm usually tolerate 1e-4 to 1e-3; a recipe overrides ``lr`` for them.
    """

    name = "full_finetune"
    family = Family.ARCHITECT
    paper = ('Howard & Ruder, "Universal Language Model Fine-tuning for Text Classification", '
             'ACL 2018')
    config_class = FullFinetuneConfig
    default_train = {"lr": 5e-5}

    def build(self, ctx: MethodContext) -> nn.Module:
        """A classifier on a copy of ``ctx.ptm``'s backbone; all but its source classifier train."""
        self.check_applicable(ctx.ptm)
        return trainable_copy(ctx.ptm, ctx.num_classes)

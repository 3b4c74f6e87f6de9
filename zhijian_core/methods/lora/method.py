"""LoRA through ``peft``: only the low-rank factors and the head train; finalize merges them."""

from __future__ import annotations

import copy

from torch import nn

from zhijian_core.errors import NotApplicableError, PTMError
from zhijian_core.methods.base import Family, MethodContext, ReuseMethod
from zhijian_core.methods.lora.adapters import inject_lora, merge_lora
from zhijian_core.methods.lora.config import LoraMethodConfig
from zhijian_core.methods.registry import register
from zhijian_core.model import ReuseClassifier
from zhijian_core.ptm.backbone import unfreeze


@register
class Lora(ReuseMethod):
    """Low-rank adaptation: ``W x + (alpha / r) · B A x``, ``W`` frozen and ``B`` starting at zero.

    Paper: Hu et al., "LoRA: Low-Rank Adaptation of Large Language Models", ICLR 2022. Implemented
    with ``peft`` (its LoRA layers apply the ``alpha / r`` scaling of section 4.1). The finalized
    model has the updates merged into ``W`` and no ``peft`` layer left, so it is a plain
    :class:`ReuseClassifier` with the PTM's state-dict keys.

    ``default_train``: peak learning rate 5e-4, the paper's value for RoBERTa-base on GLUE (Table
    9); the low-rank factors start at zero and need larger steps than full fine-tuning.
    """

    name = "lora"
    family = Family.ARCHITECT
    paper = ('Hu, Shen, Wallis, Allen-Zhu, Li, Wang, Wang & Chen, "LoRA: Low-Rank Adaptation of '
             'Large Language Models", ICLR 2022')
    config_class = LoraMethodConfig
    default_train = {"lr": 5e-4}
    config: LoraMethodConfig

    def build(self, ctx: MethodContext) -> nn.Module:
        """A classifier on a copy of ``ctx.ptm``'s backbone, LoRA layers in its target modules."""
        self.check_applicable(ctx.ptm)
        backbone = copy.deepcopy(ctx.ptm.backbone)
        where = f"{ctx.ptm.spec} (a {backbone.kind} backbone)"
        try:
            targets = self.config.target_modules or tuple(backbone.lora_target_modules())
        except PTMError as exc:
            raise NotApplicableError(f"method '{self.name}' has no default target modules on "
                                     f"{where}; set target_modules") from exc
        model = ReuseClassifier(backbone, ctx.num_classes)
        try:
            inject_lora(backbone.model, self.config.r, self.config.alpha, self.config.dropout,
                        targets)
        except ValueError as exc:
            raise NotApplicableError(
                f"method '{self.name}' does not apply to {where}: no linear or convolution module "
                f"matches target_modules {list(targets)}") from exc
        for name, param in model.named_parameters():
            param.requires_grad_("lora_" in name)
        if self.config.train_head:
            unfreeze(model.head)
        return model

    def finalize(self, model: nn.Module) -> nn.Module:
        """Merge the updates into the base weights, drop every ``peft`` layer, set eval mode."""
        merge_lora(model)
        return model.eval()

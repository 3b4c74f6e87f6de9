"""IA3 through ``peft``: only the rescaling vectors and the head train; finalize merges them."""

from __future__ import annotations

import copy

from torch import nn

from zhijian_core.errors import NotApplicableError
from zhijian_core.methods.base import Family, MethodContext, ReuseMethod
from zhijian_core.methods.ia3.adapters import inject_ia3
from zhijian_core.methods.ia3.config import IA3Config
from zhijian_core.methods.lora.adapters import merge_lora
from zhijian_core.methods.registry import register
from zhijian_core.methods.structure import capability
from zhijian_core.model import ReuseClassifier
from zhijian_core.ptm.backbone import unfreeze


@register
class IA3(ReuseMethod):
    """(IA)³: learned vectors rescale keys, values and the MLP's hidden activation.

    Paper: Liu, Tam, Muqeeth, Mohta, Huang, Bansal & Raffel, "Few-Shot Parameter-Efficient
    Fine-Tuning is Better and Cheaper than In-Context Learning", NeurIPS 2022. Attention becomes
    ``softmax(Q (l_k ⊙ K)ᵀ) (l_v ⊙ V)`` and the MLP ``W_2 (l_ff ⊙ γ(W_1 x))``, with every vector
    starting at one. Implemented with ``peft``: output rescaling of the key and value projections,
    input rescaling of the MLP's second layer. A timm ViT fuses Q, K and V into one ``qkv``
    projection, so its whole output is rescaled (the query too: one vector of ``3 d`` instead of
    two of ``d``). On a CNN, the 1x1 convolutions are rescaled on their input channels (the
    activation they read), the convolutional reading of ``l_ff``; rescaling their output would be
    undone by the batch norm that follows. The vectors are folded into the weights at finalize.

    ``default_train``: peak learning rate 3e-3, the paper's value (T-Few, with Adafactor).
    """

    name = "ia3"
    family = Family.ARCHITECT
    paper = ('Liu, Tam, Muqeeth, Mohta, Huang, Bansal & Raffel, "Few-Shot Parameter-Efficient '
             'Fine-Tuning is Better and Cheaper than In-Context Learning", NeurIPS 2022')
    config_class = IA3Config
    default_train = {"lr": 3e-3}
    config: IA3Config

    def _targets(self, ctx: MethodContext) -> tuple[tuple[str, ...], tuple[str, ...]]:
        if self.config.target_modules is not None:
            return self.config.target_modules, self.config.feedforward_modules or ()
        targets, feedforward = capability(self.name, ctx.ptm, "default IA3 target modules (or "
                                          "set target_modules)", ctx.ptm.backbone.ia3_targets)
        return tuple(targets), tuple(feedforward)

    def build(self, ctx: MethodContext) -> nn.Module:
        """A classifier on a copy of ``ctx.ptm``'s backbone, IA3 layers in its target modules."""
        self.check_applicable(ctx.ptm)
        targets, feedforward = self._targets(ctx)
        backbone = copy.deepcopy(ctx.ptm.backbone)
        model = ReuseClassifier(backbone, ctx.num_classes)
        try:
            inject_ia3(backbone.model, targets, feedforward)
        except ValueError as exc:
            raise NotApplicableError(
                f"method '{self.name}' does not apply to {ctx.ptm.spec} (a {backbone.kind} "
                f"backbone): no linear or convolution module matches target_modules "
                f"{list(targets)}") from exc
        for name, param in model.named_parameters():
            param.requires_grad_("ia3_l" in name)
        if self.config.train_head:
            unfreeze(model.head)
        return model

    def finalize(self, model: nn.Module) -> nn.Module:
        """Fold the vectors into the weights (peft's merge), drop every peft layer, eval mode."""
        merge_lora(model)  # merges any peft tuner layer, IA3's included
        return model.eval()

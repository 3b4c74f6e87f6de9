"""Visual prompt tuning: learned tokens in the input sequence of a frozen transformer."""

from __future__ import annotations

from torch import nn

from zhijian_core.errors import NotApplicableError
from zhijian_core.layers.specs import PromptSpec
from zhijian_core.methods.base import Family, MethodContext, ReuseMethod
from zhijian_core.methods.registry import register
from zhijian_core.methods.structure import frozen_target, unfreeze_named
from zhijian_core.methods.vpt.config import VPTConfig
from zhijian_core.model import ArchitectureConfig
from zhijian_core.ptm.backbone import unfreeze
from zhijian_core.ptm.loaded import LoadedPTM

NEEDS = "a token sequence to insert prompt tokens into (a text transformer or a ViT)"


@register
class VPT(ReuseMethod):
    """Prompt tokens prepended to the frozen transformer's sequence; prompts and head train.

    Paper: Jia, Tang, Chen, Cardie, Belongie, Hariharan & Lim, "Visual Prompt Tuning", ECCV 2022.
    VPT-shallow inserts ``p`` learned tokens between the class token and the patch tokens before
    the first block; VPT-deep gives every block its own ``p`` tokens, replacing the previous
    block's prompt outputs (section 3.2). Prompts are initialised with Xavier-uniform bounds and
    removed after the last block, so pooling (class token or token average) reads the image's
    tokens. On a text encoder the same mechanism is prompt tuning (shallow: Lester, Al-Rfou &
    Constant, "The Power of Scale for Parameter-Efficient Prompt Tuning", EMNLP 2021) or deep
    prompts at every layer (as P-tuning v2's prefix-style prompts, here as tokens): the prompts
    precede the first token and attend and are attended to like tokens; the mean pooling reads
    the input tokens only. The finalized model keeps the prompts as a plain parameter of the
    backbone.

    Not on CNNs: a convolutional network has no token sequence (:class:`NotApplicableError`).

    ``default_train``: peak learning rate 1e-2: prompt tokens start random and far from the
    token statistics, and need much larger steps than fine-tuning (VPT searches learning rates
    up to 50 with SGD; prompt tuning uses 0.3 with Adafactor).
    """

    name = "vpt"
    family = Family.ARCHITECT
    paper = ('Jia, Tang, Chen, Cardie, Belongie, Hariharan & Lim, "Visual Prompt Tuning", '
             'ECCV 2022')
    config_class = VPTConfig
    applies_to = frozenset({"text", "vit"})
    default_train = {"lr": 1e-2}
    config: VPTConfig

    def check_applicable(self, ptm: LoadedPTM) -> None:
        """Refuse a backbone without a token sequence, naming what is missing."""
        kind = ptm.backbone.kind
        if kind not in self.applies_to:
            raise NotApplicableError(
                f"method '{self.name}' does not apply to {ptm.spec} (a {kind} backbone): it needs "
                f"{NEEDS}; a convolutional network works on feature maps")

    def architecture(self, ctx: MethodContext) -> ArchitectureConfig:
        """The PTM with the prompt tokens."""
        return ArchitectureConfig(
            ptm=ctx.ptm.spec, num_classes=ctx.num_classes,
            insertions=(PromptSpec(tokens=self.config.tokens, deep=self.config.deep),))

    def build(self, ctx: MethodContext) -> nn.Module:
        """The frozen PTM with prompts; prompts and head train."""
        self.check_applicable(ctx.ptm)
        model = frozen_target(ctx.ptm, self.architecture(ctx))
        unfreeze_named(model, lambda name, _: name == "backbone.prompts.tokens")
        if self.config.train_head:
            unfreeze(model.head)
        return model

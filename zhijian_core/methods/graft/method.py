"""Grafting: keep the PTM's first k block groups, pool their output, train them with a new head."""

from __future__ import annotations

from torch import nn

from zhijian_core.errors import NotApplicableError
from zhijian_core.methods.base import Family, MethodContext, ReuseMethod
from zhijian_core.methods.graft.config import GraftConfig
from zhijian_core.methods.registry import register
from zhijian_core.methods.structure import capability, frozen_target
from zhijian_core.model import ArchitectureConfig, ReuseClassifier
from zhijian_core.ptm.backbone import freeze, unfreeze
from zhijian_core.ptm.loaded import LoadedPTM

NEEDS = "a backbone that can be cut after a block group"


def graft_architecture(ptm: LoadedPTM, num_classes: int, blocks: int) -> ArchitectureConfig:
    """The architecture of a graft: ``ptm`` cut after its first ``blocks`` block groups."""
    return ArchitectureConfig(ptm=ptm.spec, num_classes=num_classes, kept_blocks=blocks)


def check_depth(method: str, ptm: LoadedPTM, blocks: int) -> None:
    """Refuse to keep more block groups than ``ptm``'s backbone has, naming the count."""
    count = len(ptm.backbone.block_groups())
    if blocks > count:
        raise NotApplicableError(
            f"method '{method}' with blocks={blocks} does not apply to {ptm.spec}: its "
            f"{ptm.backbone.kind} backbone has only {count} block groups; set blocks to at most "
            f"{count}")


def graft_target(method: str, ptm: LoadedPTM, num_classes: int, blocks: int) -> ReuseClassifier:
    """A trainable graft of ``ptm`` (a copy: ``ptm`` stays whole): everything kept trains.

    Also the student a distillation method builds when it distils into a graft.

    Args:
        method: Name of the method asking (for its not-applicable error).
        ptm: The PTM to cut.
        num_classes: Classes of the new head.
        blocks: Block groups kept from the input end.

    Raises:
        NotApplicableError: The backbone cannot be cut, or has fewer block groups.
    """
    check_depth(method, ptm, blocks)
    architecture = graft_architecture(ptm, num_classes, blocks)
    model = capability(method, ptm, NEEDS, lambda: frozen_target(ptm, architecture))
    unfreeze(model)
    classifier = model.backbone.source_classifier()
    if classifier is not None:  # a backbone that keeps its own head after the cut: never read
        freeze(classifier)
    return model


@register
class Graft(ReuseMethod):
    """A shallower target: the PTM's embeddings or stem and first ``k`` blocks, all fine-tuned.

    Paper: Sajjad, Dalvi, Durrani & Nakov, "On the Effect of Dropping Layers of Pre-trained
    Transformer Models", Computer Speech & Language 2023 (dropping the top layers of a
    pre-trained encoder and fine-tuning the rest keeps most of its quality at a fraction of the
    cost). The blocks after the ``k``-th are removed, with what reads their output: a ViT keeps its
    final norm and pooling but drops the ImageNet head; a CNN pools the ``k``-th stage's feature
    map (the head convolution expects the last stage's channels and goes); a text encoder
    mean-pools the ``k``-th layer's tokens. Everything kept and a new head train.

    The graft is cheaper to serve than the PTM, and the natural student for distillation: a
    teacher's knowledge can make up for the removed blocks (:func:`graft_target` builds the
    same student for a distillation method).

    ``default_train``: peak learning rate 5e-5, as full fine-tuning: every kept weight trains from
    its pre-trained value.
    """

    name = "graft"
    family = Family.ARCHITECT
    paper = ('Sajjad, Dalvi, Durrani & Nakov, "On the Effect of Dropping Layers of Pre-trained '
             'Transformer Models", Computer Speech & Language 2023')
    config_class = GraftConfig
    default_train = {"lr": 5e-5}
    config: GraftConfig

    def check_applicable(self, ptm: LoadedPTM) -> None:
        """Also refuse ``blocks`` larger than the backbone's number of block groups."""
        super().check_applicable(ptm)
        check_depth(self.name, ptm, self.config.blocks)

    def architecture(self, ctx: MethodContext) -> ArchitectureConfig:
        """The PTM truncated to its first ``blocks`` block groups."""
        return graft_architecture(ctx.ptm, ctx.num_classes, self.config.blocks)

    def build(self, ctx: MethodContext) -> nn.Module:
        """The truncated copy of the backbone and a new head; everything trains."""
        self.check_applicable(ctx.ptm)
        return graft_target(self.name, ctx.ptm, ctx.num_classes, self.config.blocks)

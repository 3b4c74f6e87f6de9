"""WiSE-FT: ``θ = (1 - α) θ_zero_shot + α θ_fine_tuned``, with ``α`` given or chosen on validation."""

from __future__ import annotations

import copy

import torch
from torch import nn

from zhijian_core.errors import MethodError
from zhijian_core.methods.base import Family, MethodContext, ReuseMethod
from zhijian_core.methods.ingredients import (Ingredient, check_mergeable, float_state, resolve,
                                              validation_score, with_state)
from zhijian_core.methods.merge_math import interpolate
from zhijian_core.methods.registry import register
from zhijian_core.methods.wise_ft.config import WiseFTConfig
from zhijian_core.methods.wise_ft.probe import fit_logistic_head
from zhijian_core.model import ArchitectureConfig, ReuseClassifier
from zhijian_core.ptm.backbone import freeze


@register
class WiseFT(ReuseMethod):
    """Interpolate the weights of the zero-shot model and of the fine-tuned model.

    Paper: Wortsman, Ilharco, Kim, Li, Kornblith, Roelofs, Gontijo-Lopes, Hajishirzi, Farhadi,
    Namkoong & Schmidt, "Robust fine-tuning of zero-shot models", CVPR 2022. The zero-shot end
    here is the PTM's own backbone with a linear-probe head fitted on its frozen features (our
    PTMs have no zero-shot classifier); the fine-tuned end is a model tuned end to end from the
    same PTM on the same task. Every weight, heads included, is mixed as
    ``(1 - α) θ_zero_shot + α θ_fine_tuned``; ``α`` is given, or chosen on validation.
    """

    name = "wise_ft"
    family = Family.MERGER
    paper = ('Wortsman, Ilharco, Kim, Li, Kornblith, Roelofs, Gontijo-Lopes, Hajishirzi, '
             'Farhadi, Namkoong & Schmidt, "Robust fine-tuning of zero-shot models", CVPR 2022')
    config_class = WiseFTConfig
    trains = False
    config: WiseFTConfig

    def __init__(self, config: WiseFTConfig) -> None:
        super().__init__(config)
        self.alpha: float | None = None
        """The coefficient used (after :meth:`build`)."""

    def zero_shot_end(self, ctx: MethodContext) -> ReuseClassifier:
        """The PTM's backbone with a logistic-regression head fitted on its frozen train features."""
        train = ctx.splits.train
        features = ctx.encode(ctx.ptm, train)
        labels = torch.as_tensor(train.labels, dtype=torch.long)
        known = labels >= 0
        if not bool(known.any()):
            raise MethodError(f"method '{self.name}' needs labelled training examples for its probe")
        weight, bias = fit_logistic_head(features[known.to(features.device)], labels[known],
                                         ctx.num_classes, self.config.probe_l2)
        model = ReuseClassifier(copy.deepcopy(ctx.ptm.backbone), ctx.num_classes)
        with torch.no_grad():
            model.head.weight.copy_(weight)
            model.head.bias.copy_(bias)
        freeze(model)
        return model.eval()

    def build(self, ctx: MethodContext) -> nn.Module:
        """The interpolated classifier (frozen)."""
        self.check_applicable(ctx.ptm)
        references = [self.config.fine_tuned] + (
            [self.config.zero_shot] if self.config.zero_shot is not None else [])
        ingredients = resolve(ctx, self.name, references)
        fine_tuned = ingredients[0]
        zero_shot = ingredients[1].model if len(ingredients) > 1 else self.zero_shot_end(ctx)
        check_mergeable(self.name, [*ingredients, Ingredient("zero_shot", zero_shot, ctx.ptm)],
                        ctx.ptm, ctx.num_classes)
        start, end = float_state(zero_shot), float_state(fine_tuned.model)
        if self.config.alpha is not None:
            self.alpha = self.config.alpha
        else:
            scores = [validation_score(ctx, with_state(fine_tuned.model, interpolate(start, end, a)),
                                       fine_tuned.ptm) for a in self.config.alphas]
            self.alpha = self.config.alphas[scores.index(max(scores))]
        return with_state(fine_tuned.model, interpolate(start, end, self.alpha))

    def finalize(self, model: nn.Module) -> nn.Module:
        """The interpolated classifier itself, in eval mode."""
        return model.eval()

    def architecture(self, ctx: MethodContext) -> ArchitectureConfig:
        """The comparison PTM's skeleton with this task's head."""
        return ArchitectureConfig(ptm=ctx.ptm.spec, num_classes=ctx.num_classes)

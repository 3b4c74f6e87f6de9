"""Co-Tuning: train the target head and the PTM's own head together, the latter on soft labels."""

from __future__ import annotations

from typing import Mapping

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from zhijian_core.errors import MethodError, NotApplicableError
from zhijian_core.methods.base import Family, MethodContext, ReuseMethod, trainable_copy
from zhijian_core.methods.co_tuning.config import CoTuningConfig
from zhijian_core.methods.co_tuning.relationship import direct_relationship, soft_cross_entropy
from zhijian_core.methods.registry import register
from zhijian_core.ptm.backbone import Backbone, unfreeze
from zhijian_core.ptm.loaded import LoadedPTM


class _SourceLogits(nn.Module):
    """The PTM's own predictions: its source classifier on its pooled features."""

    def __init__(self, backbone: Backbone, classifier: nn.Module) -> None:
        super().__init__()
        self.backbone = backbone
        self.classifier = classifier

    def forward(self, batch: Mapping[str, Tensor]) -> Tensor:
        return self.classifier(self.backbone(batch))


@register
class CoTuning(ReuseMethod):
    """Fine-tune with ``CE(target head, y_t) + λ · CE(source head, p(y_s | y_t))``.

    Paper: You, Kou, Long & Wang, "Co-Tuning for Transfer Learning", NeurIPS 2020. First
    (:meth:`prepare`) the category relationship ``p(y_s | y_t)`` between the task's classes and the
    PTM's own classes is learnt from the PTM's predictions on the training data (the direct
    approach: the mean predicted source distribution of each target class). Then the backbone, a
    new target head and the PTM's own classifier train together: the target head on the labels,
    the source head on the labels translated through the relationship, so the pre-trained source
    classifier keeps supervising the features.

    Needs the PTM's own classifier (EfficientNet-Lite0's ImageNet head, timm models with heads):
    on a backbone without one it raises :class:`NotApplicableError`. The source head's trained
    weights and the relationship are used in training only: at finalize the source head gets its
    pre-trained weights back (it is part of the PTM's skeleton but off the inference path) and the
    relationship is released. ``default_train``: learning rate 5e-5, as full fine-tuning.
    """

    name = "co_tuning"
    family = Family.TUNER
    paper = 'You, Kou, Long & Wang, "Co-Tuning for Transfer Learning", NeurIPS 2020'
    config_class = CoTuningConfig
    applies_to = frozenset({"vit", "cnn"})
    default_train = {"lr": 5e-5}
    config: CoTuningConfig

    def __init__(self, config: CoTuningConfig) -> None:
        super().__init__(config)
        self._relationship: Tensor | None = None
        self._source_start: dict[str, Tensor] | None = None

    def check_applicable(self, ptm: LoadedPTM) -> None:
        """Refuse a backbone without its own (source) classifier, naming that capability."""
        if ptm.backbone.source_classifier() is None:
            raise NotApplicableError(
                f"method '{self.name}' does not apply to {ptm.spec} (a {ptm.backbone.kind} "
                "backbone): it needs the PTM's own source classifier (such as an ImageNet head), "
                "which this backbone does not have")
        super().check_applicable(ptm)

    def build(self, ctx: MethodContext) -> nn.Module:
        """A classifier on a copy of the PTM's backbone; everything trains, its source head too."""
        self.check_applicable(ctx.ptm)
        model = trainable_copy(ctx.ptm, ctx.num_classes)
        unfreeze(model.backbone.source_classifier())
        return model

    def prepare(self, model: nn.Module, ctx: MethodContext) -> None:
        """Learn ``p(y_s | y_t)`` from the PTM's predictions on the training data; keep the
        source head's pre-trained weights to restore at finalize."""
        data = self.training_data(ctx)
        source = _SourceLogits(ctx.ptm.backbone, ctx.ptm.backbone.source_classifier()).eval()
        logits = ctx.logits_of(source, ctx.ptm, data)
        labels = torch.as_tensor(data.labels, dtype=torch.long)
        try:
            relationship = direct_relationship(logits, labels, ctx.num_classes)
        except ValueError as exc:
            raise MethodError(f"method '{self.name}': {exc}") from exc
        self._relationship = relationship.to(ctx.device)
        self._source_start = {name: t.detach().clone() for name, t in
                              model.backbone.source_classifier().state_dict().items()}

    def loss(self, model: nn.Module, batch: Mapping[str, Tensor], labels: Tensor,
             indices: Tensor) -> Tensor:
        """Target cross-entropy plus ``λ`` times the source head's soft-label cross-entropy."""
        if self._relationship is None:
            raise MethodError(f"method '{self.name}': prepare() must run before loss()")
        features = model.forward_features(batch)
        target = F.cross_entropy(model.head(features).float(), labels)
        source_logits = model.backbone.source_classifier()(features)
        translated = self._relationship[labels.to(self._relationship.device)]
        source = soft_cross_entropy(source_logits, translated.to(source_logits.device))
        return target + self.config.trade_off * source

    def finalize(self, model: nn.Module) -> nn.Module:
        """The target classifier in eval mode; the source head's training is undone."""
        if self._source_start is not None:
            model.backbone.source_classifier().load_state_dict(self._source_start)
        self._relationship = None
        self._source_start = None
        return model.eval()

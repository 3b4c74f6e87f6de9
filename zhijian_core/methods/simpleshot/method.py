"""SimpleShot (CL2N): centre on the training-feature mean, L2-normalise, nearest class mean."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from zhijian_core.errors import DatasetError
from zhijian_core.methods.base import Family, MethodContext, ReuseMethod
from zhijian_core.methods.ncm.method import class_means, nearest_mean_head
from zhijian_core.methods.registry import register
from zhijian_core.methods.simpleshot.config import SimpleShotConfig
from zhijian_core.model import ArchitectureConfig, ReuseClassifier
from zhijian_core.ptm.backbone import freeze


def cl2n(features: Tensor, center: Tensor) -> Tensor:
    """SimpleShot's CL2N transform: ``(f - m) / ‖f - m‖`` per row."""
    return F.normalize(features - center, dim=-1)


@register
class SimpleShot(ReuseMethod):
    """Nearest class mean on CL2N features: centred on the training mean, then L2-normalised.

    Paper: Wang, Chao, Weinberger & van der Maaten, "SimpleShot: Revisiting Nearest-Neighbor
    Classification for Few-Shot Learning", arXiv:1911.04623, 2019. The feature mean ``m`` of the
    training (support) examples is subtracted, each feature is L2-normalised, and an example goes
    to the class whose mean CL2N feature is nearest in Euclidean distance. The centre is kept in
    the classifier (``feature_norm: cl2n``) and the means are folded into its linear head exactly
    as for ``ncm`` (``argmax_c μ_c·f - ½‖μ_c‖² = argmin_c ‖f - μ_c‖²``), so the finalized model is
    an ordinary classifier.
    """

    name = "simpleshot"
    family = Family.MERGER
    paper = ('Wang, Chao, Weinberger & van der Maaten, "SimpleShot: Revisiting Nearest-Neighbor '
             'Classification for Few-Shot Learning", arXiv:1911.04623 2019')
    config_class = SimpleShotConfig
    trains = False
    frozen_backbone = True

    def build(self, ctx: MethodContext) -> nn.Module:
        """A frozen CL2N classifier on ``ctx.ptm``; :meth:`prepare` sets its centre and head."""
        self.check_applicable(ctx.ptm)
        model = ReuseClassifier(ctx.ptm.backbone, ctx.num_classes, "cl2n")
        freeze(model)
        return model

    def prepare(self, model: nn.Module, ctx: MethodContext) -> None:
        """Centre on the labelled training features' mean, normalise, average each class."""
        train = ctx.splits.train
        labels = torch.as_tensor(train.labels, dtype=torch.long)
        features = ctx.encode(ctx.ptm, train).double()
        labels = labels.to(features.device)
        known = labels >= 0
        if not bool(known.any()):
            raise DatasetError(f"method '{self.name}' needs labelled training examples")
        center = features[known].mean(0)
        means, counts = class_means(cl2n(features, center), labels, ctx.num_classes)
        empty = [train.label_names[c] for c in range(ctx.num_classes) if counts[c] == 0]
        if empty:
            raise DatasetError(
                f"method '{self.name}' needs at least one training example of every class; the "
                f"train split of '{train.name}' has none of {', '.join(map(repr, empty))}. Use "
                "more training examples per class (or a stratified split)")
        weight, bias = nearest_mean_head(means)
        with torch.no_grad():
            model.feature_center.copy_(center.to(model.feature_center))  # type: ignore[operator]
            model.head.weight.copy_(weight.to(model.head.weight))  # type: ignore[union-attr]
            model.head.bias.copy_(bias.to(model.head.bias))  # type: ignore[union-attr]

    def finalize(self, model: nn.Module) -> nn.Module:
        """The classifier itself, in eval mode."""
        return model.eval()

    def architecture(self, ctx: MethodContext) -> ArchitectureConfig:
        """The PTM's skeleton plus the mean head, with the CL2N centre."""
        return ArchitectureConfig(ptm=ctx.ptm.spec, num_classes=ctx.num_classes,
                                  feature_norm="cl2n")

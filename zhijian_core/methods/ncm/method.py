"""Nearest class mean: a closed-form linear head whose argmax is the nearest class centroid."""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from zhijian_core.data.dataset import UNLABELLED
from zhijian_core.errors import DatasetError
from zhijian_core.methods.base import Family, MethodContext, ReuseMethod
from zhijian_core.methods.ncm.config import NCMConfig
from zhijian_core.methods.registry import register
from zhijian_core.model import ArchitectureConfig, ReuseClassifier
from zhijian_core.ptm.backbone import freeze


def class_means(features: Tensor, labels: Tensor, num_classes: int) -> tuple[Tensor, Tensor]:
    """Mean feature of each class.

    Args:
        features: Features ``(N, D)``.
        labels: Class indices ``(N,)``; rows labelled ``UNLABELLED`` are ignored.
        num_classes: Number of classes ``C``.

    Returns:
        ``(means, counts)``: means ``(C, D)`` (zero for a class without examples) and the number of
        examples of each class ``(C,)``.
    """
    known = labels != UNLABELLED
    features, labels = features[known], labels[known].long()
    sums = torch.zeros(num_classes, features.shape[1], dtype=features.dtype, device=features.device)
    sums.index_add_(0, labels, features)
    counts = torch.bincount(labels, minlength=num_classes)
    return sums / counts.clamp(min=1).unsqueeze(1).to(features.dtype), counts


def nearest_mean_head(means: Tensor) -> tuple[Tensor, Tensor]:
    """Weight and bias of the linear layer whose largest logit is the nearest mean.

    ``‖f - μ_c‖² = ‖f‖² - 2 μ_c·f + ‖μ_c‖²``, so ``-½‖f - μ_c‖² = (μ_c·f - ½‖μ_c‖²) - ½‖f‖²``.
    The last term is the same for every class, hence
    ``argmax_c (μ_c·f - ½‖μ_c‖²) = argmin_c ‖f - μ_c‖²`` exactly: the head has ``weight = μ`` and
    ``bias_c = -½‖μ_c‖²``, and its logits are the negative half squared distances shifted per
    example by a constant (so even their softmax is unchanged).

    Args:
        means: Class means ``(C, D)``.

    Returns:
        ``(weight (C, D), bias (C,))``.
    """
    return means.clone(), -0.5 * means.pow(2).sum(dim=1)


@register
class NearestClassMean(ReuseMethod):
    """Classify a feature by the nearest class mean of the training features, without training.

    Paper: Mensink, Verbeek, Perronnin & Csurka, "Distance-Based Image Classification: Generalizing
    to New Classes at Near-Zero Cost", TPAMI 2013 (the NCM classifier, here with the Euclidean
    metric on frozen PTM features, L2-normalised by default as in SimpleShot). The means are folded
    into the linear head (see :func:`nearest_mean_head`), so the finalized model is an ordinary
    classifier whose argmax is the nearest mean.
    """

    name = "ncm"
    family = Family.MERGER
    paper = ('Mensink, Verbeek, Perronnin & Csurka, "Distance-Based Image Classification: '
             'Generalizing to New Classes at Near-Zero Cost", TPAMI 2013')
    config_class = NCMConfig
    trains = False
    frozen_backbone = True
    config: NCMConfig

    def _feature_norm(self) -> Literal["none", "l2"]:
        return "l2" if self.config.normalize else "none"

    def build(self, ctx: MethodContext) -> nn.Module:
        """A frozen classifier on ``ctx.ptm``; :meth:`prepare` sets its head."""
        self.check_applicable(ctx.ptm)
        model = ReuseClassifier(ctx.ptm.backbone, ctx.num_classes, self._feature_norm())
        freeze(model)
        return model

    def prepare(self, model: nn.Module, ctx: MethodContext) -> None:
        """Encode the train split, average each class, write the means into the head."""
        train = ctx.splits.train
        features = ctx.encode(ctx.ptm, train).double()
        if self.config.normalize:
            features = F.normalize(features, dim=-1)
        labels = torch.as_tensor(train.labels, dtype=torch.long, device=features.device)
        means, counts = class_means(features, labels, ctx.num_classes)
        empty = [train.label_names[c] if c < len(train.label_names) else str(c)
                 for c in range(ctx.num_classes) if counts[c] == 0]
        if empty:
            raise DatasetError(
                f"method '{self.name}' needs at least one training example of every class; the "
                f"train split of '{train.name}' has none of {', '.join(map(repr, empty))}. Use "
                "more training examples per class (or a stratified split)")
        weight, bias = nearest_mean_head(means)
        head: nn.Linear = model.head
        with torch.no_grad():
            head.weight.copy_(weight.to(head.weight))
            head.bias.copy_(bias.to(head.bias))

    def finalize(self, model: nn.Module) -> nn.Module:
        """The classifier itself, in eval mode."""
        return model.eval()

    def architecture(self, ctx: MethodContext) -> ArchitectureConfig:
        """The PTM's skeleton plus the mean head, with the method's feature normalisation."""
        return ArchitectureConfig(ptm=ctx.ptm.spec, num_classes=ctx.num_classes,
                                  feature_norm=self._feature_norm())

"""k-nearest neighbours on frozen PTM features, finalized as one module with its support set."""

from __future__ import annotations

import torch
from torch import nn

from zhijian_core.errors import ConfigError
from zhijian_core.methods.base import Family, MethodContext, ReuseMethod
from zhijian_core.methods.knn.config import KNNConfig
from zhijian_core.methods.knn.module import KNNArchitecture, KNNClassifier
from zhijian_core.methods.registry import register
from zhijian_core.model import ArchitectureConfig
from zhijian_core.ptm.backbone import freeze


@register
class KNearestNeighbours(ReuseMethod):
    """Classify by a vote of the ``k`` training examples whose PTM features are most similar.

    Paper: Cover & Hart, "Nearest Neighbor Pattern Classification", IEEE Transactions on
    Information Theory 1967 (the rule); cosine similarity on frozen features with votes weighted
    ``exp(s / τ)`` as in Wu, Xiong, Yu & Lin, "Unsupervised Feature Learning via Non-Parametric
    Instance Discrimination", CVPR 2018. No training: the L2-normalised training features and
    their labels are stored in the finalized module as buffers, and its logits are the log of
    each class's share of the votes.
    """

    name = "knn"
    family = Family.MERGER
    paper = ('Cover & Hart, "Nearest Neighbor Pattern Classification", IEEE Transactions on '
             'Information Theory 1967')
    config_class = KNNConfig
    trains = False
    frozen_backbone = True
    config: KNNConfig

    def __init__(self, config: KNNConfig) -> None:
        super().__init__(config)
        self._support_size = 0

    def build(self, ctx: MethodContext) -> nn.Module:
        """An empty kNN classifier sized for the labelled training examples."""
        self.check_applicable(ctx.ptm)
        train = ctx.splits.train
        labelled = int((torch.as_tensor(train.labels) >= 0).sum())
        if self.config.k > labelled:
            raise ConfigError(f"method '{self.name}': k={self.config.k} but the train split of "
                              f"'{train.name}' has {labelled} labelled examples; lower k")
        self._support_size = labelled
        model = KNNClassifier(ctx.ptm.backbone, labelled, ctx.num_classes, self.config.k,
                              self.config.weighting, self.config.temperature)
        freeze(model)
        return model

    def prepare(self, model: nn.Module, ctx: MethodContext) -> None:
        """Encode the train split and store its labelled features and labels."""
        train = ctx.splits.train
        labels = torch.as_tensor(train.labels, dtype=torch.long)
        known = labels >= 0
        features = ctx.encode(ctx.ptm, train)
        model.set_support(features[known.to(features.device)], labels[known])  # type: ignore[operator]

    def finalize(self, model: nn.Module) -> nn.Module:
        """The kNN classifier itself, in eval mode."""
        return model.eval()

    def architecture(self, ctx: MethodContext) -> ArchitectureConfig:
        """The PTM's skeleton plus the support set's size and the vote's settings."""
        return KNNArchitecture(ptm=ctx.ptm.spec, num_classes=ctx.num_classes, feature_norm="l2",
                               support_size=self._support_size, k=self.config.k,
                               weighting=self.config.weighting,
                               temperature=self.config.temperature)

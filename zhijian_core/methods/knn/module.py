"""The finalized kNN classifier: a backbone plus the support features and labels as buffers.

It is a plain module (``topk``, a gather and a sum), so it exports to ONNX like any classifier.
Because ``ArchitectureConfig`` describes a backbone plus a *linear* head, the kNN classifier is
described by :class:`KNNArchitecture` (an ``ArchitectureConfig`` with the kNN fields) and rebuilt
by :func:`rebuild_knn`.
"""

from __future__ import annotations

from typing import Literal, Mapping

import torch
import torch.nn.functional as F
from pydantic import PositiveFloat, PositiveInt
from torch import Tensor, nn

from zhijian_core.model import ArchitectureConfig
from zhijian_core.ptm.backbone import Backbone

LOG_FLOOR = 1e-9
"""Vote shares are floored here before the log, so a class without votes has a finite logit."""


class KNNArchitecture(ArchitectureConfig):
    """Everything needed to rebuild a :class:`KNNClassifier` before loading its buffers."""

    module: Literal["knn"] = "knn"
    """The module kind (a kNN classifier rather than a linear head)."""
    support_size: PositiveInt
    """Number of stored training examples."""
    k: PositiveInt
    """Number of neighbours that vote."""
    weighting: Literal["uniform", "similarity"]
    """How votes are weighted (see ``KNNConfig``)."""
    temperature: PositiveFloat
    """Temperature of similarity weighting."""


class KNNClassifier(nn.Module):
    """Logits ``log(vote share)`` of the ``k`` most cosine-similar stored training examples.

    Buffers: ``support`` ``(N, D)``, the L2-normalised training features, and ``support_onehot``
    ``(N, C)``, their one-hot labels. A batch may carry precomputed pooled ``features``.
    """

    def __init__(self, backbone: Backbone, support_size: int, num_classes: int, k: int,
                 weighting: Literal["uniform", "similarity"], temperature: float) -> None:
        super().__init__()
        if k > support_size:
            raise ValueError(f"k={k} neighbours asked for, but only {support_size} are stored")
        self.backbone = backbone
        self.k, self.weighting, self.temperature = k, weighting, temperature
        self.register_buffer("support", torch.zeros(support_size, backbone.feature_dim))
        self.register_buffer("support_onehot", torch.zeros(support_size, num_classes))

    @property
    def num_classes(self) -> int:
        """Number of output classes."""
        return int(self.support_onehot.shape[1])

    def set_support(self, features: Tensor, labels: Tensor) -> None:
        """Store the training ``features`` ``(N, D)`` (normalised here) and ``labels`` ``(N,)``."""
        with torch.no_grad():
            self.support.copy_(F.normalize(features.to(self.support), dim=-1))
            self.support_onehot.copy_(F.one_hot(labels.long(), self.num_classes).to(self.support))

    def votes(self, features: Tensor) -> Tensor:
        """Each class's share of the (weighted) votes of the ``k`` nearest neighbours ``(B, C)``."""
        similarity = F.normalize(features, dim=-1) @ self.support.T
        top, index = similarity.topk(self.k, dim=-1)
        if self.weighting == "similarity":  # shifted by the largest: the shares are unchanged
            weights = torch.exp((top - top[:, :1]) / self.temperature)
        else:
            weights = torch.ones_like(top)
        votes = (weights.unsqueeze(-1) * self.support_onehot[index]).sum(dim=1)
        return votes / votes.sum(dim=-1, keepdim=True)

    def forward(self, batch: Mapping[str, Tensor]) -> Tensor:
        features = batch["features"] if "features" in batch else self.backbone(batch)
        return torch.log(self.votes(features).clamp_min(LOG_FLOOR))


def rebuild_knn(architecture: KNNArchitecture, backbone: Backbone) -> KNNClassifier:
    """An empty :class:`KNNClassifier` of ``architecture`` on ``backbone`` (load weights next)."""
    return KNNClassifier(backbone, architecture.support_size, architecture.num_classes,
                         architecture.k, architecture.weighting, architecture.temperature)

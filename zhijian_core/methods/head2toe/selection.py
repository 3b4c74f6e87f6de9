"""Head2Toe's feature ranking: layer scaling and a group-lasso logistic regression (pure math)."""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor


def layer_scales(features: Tensor, layer_dims: Sequence[int]) -> Tensor:
    """Each layer's mean L2 norm over the examples ``(L,)``, so layers enter on one scale.

    Args:
        features: Concatenated pooled features ``(N, sum(layer_dims))``.
        layer_dims: Size of each layer's part, in order.
    """
    parts = torch.split(features, list(layer_dims), dim=-1)
    return torch.stack([p.norm(dim=-1).mean().clamp(min=1e-12) for p in parts])


def group_lasso_scores(features: Tensor, labels: Tensor, num_classes: int, l21: float,
                       steps: int, lr: float, seed: int) -> Tensor:
    """Relevance of every feature: ``‖W_j‖₂`` of a logistic regression fitted with a group lasso.

    Minimises ``CE(X W + b, y) + l21 · Σ_j ‖W_j‖₂`` (rows ``W_j`` of ``W``: one group per feature)
    with full-batch Adam from a seeded initialisation; the penalty drives the rows of irrelevant
    features towards zero, and their norms rank the features (Evci et al. 2022, section 3).

    Args:
        features: ``(N, D)`` training features.
        labels: ``(N,)`` class indices.
        num_classes: Number of classes ``C``.
        l21: Weight of the group-lasso penalty.
        steps: Number of Adam steps.
        lr: Adam's learning rate.
        seed: Seed of the initialisation.

    Returns:
        ``(D,)`` row norms of the fitted ``W``.
    """
    generator = torch.Generator().manual_seed(seed)
    x = features.detach().float().cpu()
    y = labels.detach().long().cpu()
    weight = (torch.randn(x.shape[1], num_classes, generator=generator) * 1e-3).requires_grad_()
    bias = torch.zeros(num_classes, requires_grad=True)
    optimizer = torch.optim.Adam([weight, bias], lr=lr)
    with torch.enable_grad():
        for _ in range(steps):
            optimizer.zero_grad()
            loss = F.cross_entropy(x @ weight + bias, y) + l21 * weight.norm(dim=1).sum()
            loss.backward()
            optimizer.step()
    return weight.detach().norm(dim=1)

"""The batch spectral shrinkage penalty as a pure function of a feature matrix."""

from __future__ import annotations

import torch
from torch import Tensor


def spectral_shrinkage(features: Tensor, k: int) -> Tensor:
    """``Σ_{i=1..k} σ²_{-i}``: the squared ``k`` smallest singular values of ``features``, summed.

    Chen et al. 2019, eq. 4. ``features`` is the ``(B, D)`` matrix of a batch's features; it has
    ``min(B, D)`` singular values, and ``k`` is capped at that number (a short last batch).

    Args:
        features: Feature matrix ``(B, D)`` (computed in float32).
        k: Number of smallest singular values penalised (``k ≥ 1``).
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    if features.ndim != 2:
        raise ValueError(f"expected a (B, D) feature matrix, got shape {tuple(features.shape)}")
    singular = torch.linalg.svdvals(features.float())  # descending
    count = min(k, singular.shape[0])
    return (singular[singular.shape[0] - count:] ** 2).sum()

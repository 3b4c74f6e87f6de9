"""DELTA's feature-map distance as a pure function of tensors."""

from __future__ import annotations

from torch import Tensor

from zhijian_core.methods.hooks import as_positions


def feature_map_distance(student: Tensor, source: Tensor, weights: Tensor,
                         mask: Tensor | None = None) -> Tensor:
    """``Σ_j W_j ‖FM_j(student) − FM_j(source)‖²`` per example, averaged over the batch.

    ``FM_j`` is channel ``j`` of a block's output over all its positions (pixels or tokens).

    Args:
        student: The block output of the model being trained, ``(B, C, H, W)`` or ``(B, T, C)``.
        source: The same block's output in the source model (no gradient flows into it).
        weights: Channel weights ``(C,)``.
        mask: For token sequences, weights ``(B, T)`` of the real tokens; ``None``: all count.
    """
    diff = as_positions(student).float() - as_positions(source).detach().float()  # (B, P, C)
    squared = diff ** 2
    if mask is not None:
        squared = squared * mask.float().unsqueeze(-1)
    per_channel = squared.sum(1)  # (B, C)
    return (per_channel * weights.float().to(per_channel.device)).sum(1).mean()

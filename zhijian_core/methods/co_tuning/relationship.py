"""Co-Tuning's category relationship and its soft-label loss, as pure functions of tensors."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def direct_relationship(source_logits: Tensor, labels: Tensor, num_classes: int) -> Tensor:
    """``p(y_s | y_t)``: for each target class, the mean of the source model's predicted
    distributions ``softmax(source_logits)`` over that class's examples (You et al. 2020, §3.2,
    the direct approach).

    Args:
        source_logits: The source classifier's logits ``(N, C_s)`` on the target training data.
        labels: Target labels ``(N,)`` in ``[0, num_classes)``.
        num_classes: Number ``C_t`` of target classes.

    Returns:
        A ``(C_t, C_s)`` matrix whose rows are probability distributions.

    Raises:
        ValueError: a target class has no example (its row cannot be estimated).
    """
    probabilities = F.softmax(source_logits.float(), dim=-1)
    counts = torch.bincount(labels, minlength=num_classes)
    missing = [c for c in range(num_classes) if int(counts[c]) == 0]
    if missing:
        raise ValueError(f"target classes {missing} have no training example, so their "
                         "relationship to the source classes cannot be estimated")
    sums = torch.zeros(num_classes, probabilities.shape[1], dtype=probabilities.dtype)
    sums.index_add_(0, labels.cpu(), probabilities.cpu())
    return sums / counts.unsqueeze(1).to(sums.dtype)


def soft_cross_entropy(logits: Tensor, targets: Tensor) -> Tensor:
    """``−Σ_c q_c log softmax(z)_c`` averaged over the batch, for target distributions ``q``.

    Args:
        logits: Logits ``(B, C)``.
        targets: Distributions ``(B, C)`` (no gradient flows into them).
    """
    return -(targets.detach().float() * F.log_softmax(logits.float(), dim=-1)).sum(-1).mean()

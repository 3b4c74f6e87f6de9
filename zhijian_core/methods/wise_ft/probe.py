"""A linear probe fitted deterministically: multinomial logistic regression by full-batch L-BFGS."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def fit_logistic_head(features: Tensor, labels: Tensor, num_classes: int, l2: float,
                      max_iter: int = 500) -> tuple[Tensor, Tensor]:
    """Minimise ``mean CE(W f + b, y) + ½ l2 ‖W‖²`` over ``(W, b)`` from zero, by L-BFGS.

    The objective is strictly convex, so the solution does not depend on initialisation or data
    order: the same features give the same head.

    Args:
        features: Features ``(N, D)``.
        labels: Class indices ``(N,)``.
        num_classes: ``C``.
        l2: Weight penalty (the bias is not penalised).
        max_iter: L-BFGS iterations at most.

    Returns:
        ``(weight (C, D), bias (C,))`` as float32.
    """
    x = features.detach().double()
    y = labels.long().to(x.device)
    weight = torch.zeros(num_classes, x.shape[1], dtype=torch.float64, device=x.device,
                         requires_grad=True)
    bias = torch.zeros(num_classes, dtype=torch.float64, device=x.device, requires_grad=True)
    optimizer = torch.optim.LBFGS([weight, bias], max_iter=max_iter, tolerance_grad=1e-9,
                                  tolerance_change=1e-12, line_search_fn="strong_wolfe")

    def closure() -> Tensor:
        optimizer.zero_grad()
        loss = F.cross_entropy(x @ weight.T + bias, y) + 0.5 * l2 * weight.pow(2).sum()
        loss.backward()
        return loss

    with torch.enable_grad():
        optimizer.step(closure)
    return weight.detach().float(), bias.detach().float()

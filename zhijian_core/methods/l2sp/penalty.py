"""The L2-SP penalty as a pure function of parameter tensors."""

from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor


def l2sp_penalty(shared: Sequence[Tensor], start: Sequence[Tensor], new: Sequence[Tensor],
                 alpha: float, beta: float) -> Tensor:
    """``α/2 · Σ ‖w − w⁰‖² + β/2 · Σ ‖v‖²`` (Li, Grandvalet & Davoine 2018, eq. 3).

    Args:
        shared: The backbone parameters shared with the source model (being trained).
        start: Their starting values ``w⁰``, same order and shapes (constants: no gradient).
        new: The parameters of the new layers (the head).
        alpha: Weight of the pull towards the starting point.
        beta: Weight of the L2 penalty on the new layers.

    Returns:
        A scalar tensor connected to ``shared`` and ``new``.
    """
    if len(shared) != len(start):
        raise ValueError(f"{len(shared)} shared parameters but {len(start)} starting values")
    terms = [((w - w0.detach()).float() ** 2).sum() for w, w0 in zip(shared, start)]
    drift = torch.stack(terms).sum() if terms else torch.zeros(())
    sizes = [(v.float() ** 2).sum() for v in new]
    size = torch.stack(sizes).sum() if sizes else torch.zeros(())
    return 0.5 * alpha * drift + 0.5 * beta * size

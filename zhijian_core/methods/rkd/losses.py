"""The distance-wise and angle-wise RKD losses, as pure functions of two embedding batches.

Park, Kim, Lu & Cho, "Relational Knowledge Distillation", CVPR 2019, section 3.2. Both compare
relations between the examples of a batch through the Huber loss ``l_δ`` with ``δ = 1``
(``x²/2`` for ``|x| ≤ 1``, ``|x| − 1/2`` beyond). Embeddings may have different sizes.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def _pair_distances(embeddings: Tensor) -> Tensor:
    """Euclidean distances ``(B, B)`` (exact zeros on the diagonal, safe gradients)."""
    squared = (embeddings.unsqueeze(1) - embeddings.unsqueeze(0)).pow(2).sum(-1)
    eye = torch.eye(len(embeddings), dtype=torch.bool, device=embeddings.device)
    return squared.masked_fill(eye, 1.0).sqrt().masked_fill(eye, 0.0)


def distance_potentials(embeddings: Tensor) -> Tensor:
    """``ψ_D(t_i, t_j) = ‖t_i − t_j‖ / μ`` for the ordered pairs ``i ≠ j`` (flattened), where
    ``μ`` is the mean distance over those pairs."""
    distances = _pair_distances(embeddings.float())
    off = ~torch.eye(len(embeddings), dtype=torch.bool, device=embeddings.device)
    values = distances[off]
    return values / values.mean().clamp(min=1e-12)


def angle_potentials(embeddings: Tensor) -> Tensor:
    """``ψ_A(t_i, t_j, t_k) = ⟨e_ij, e_kj⟩`` with ``e_ij = (t_i − t_j)/‖t_i − t_j‖``: the cosine of
    the angle at ``t_j``, for the ordered triplets of distinct ``i, j, k`` (flattened)."""
    e = embeddings.float()
    diff = e.unsqueeze(0) - e.unsqueeze(1)  # diff[j, i] = t_i - t_j
    unit = F.normalize(diff, p=2, dim=-1)
    cosines = torch.einsum("jid,jkd->ijk", unit, unit)
    n = len(e)
    index = torch.arange(n, device=e.device)
    i, j, k = torch.meshgrid(index, index, index, indexing="ij")
    distinct = (i != j) & (j != k) & (i != k)
    return cosines[distinct]


def rkd_distance_loss(student: Tensor, teacher: Tensor) -> Tensor:
    """Mean Huber loss between the student's and the teacher's distance potentials.

    Args:
        student: Student embeddings ``(B, D_s)``, ``B ≥ 2``.
        teacher: Teacher embeddings ``(B, D_t)`` of the same examples (no gradient flows into them).
    """
    if len(student) < 2:
        return student.sum() * 0.0
    return F.smooth_l1_loss(distance_potentials(student),
                            distance_potentials(teacher.detach()), beta=1.0)


def rkd_angle_loss(student: Tensor, teacher: Tensor) -> Tensor:
    """Mean Huber loss between the student's and the teacher's angle potentials (``B ≥ 3``)."""
    if len(student) < 3:
        return student.sum() * 0.0
    return F.smooth_l1_loss(angle_potentials(student), angle_potentials(teacher.detach()),
                            beta=1.0)

"""REFILLED's two objectives as pure functions of embeddings (Ye, Lu & Zhan 2020).

Stage 1 matches *comparisons*: for a triplet (anchor ``a``, positive ``p`` of its class, negative
``n`` of another), the probability that ``a`` is closer to ``p`` than to ``n`` is
``σ((d_an − d_ap)/τ₁)`` in an L2-normalised embedding; the student's Bernoulli distribution is
matched to the teacher's by KL divergence. Stage 2 distils *local* class targets: each example's
similarity to the teacher's class centres of the classes present in its batch.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def semihard_triplets(embeddings: Tensor, labels: Tensor, margin: float
                      ) -> tuple[Tensor, Tensor, Tensor]:
    """Indices ``(anchors, positives, negatives)`` of the batch's triplets to learn from.

    Semi-hard triplets (Schroff et al. 2015) in ``embeddings``: ``d_ap < d_an < d_ap + margin``.
    When the batch holds none, every valid triplet is used instead (so a batch with two classes
    always teaches something); a batch without a positive pair or a negative gives none.
    """
    with torch.no_grad():
        distances = torch.cdist(embeddings.float(), embeddings.float())
        same = labels.unsqueeze(0) == labels.unsqueeze(1)
        eye = torch.eye(len(labels), dtype=torch.bool, device=labels.device)
        positive = same & ~eye  # [a, p]
        negative = ~same  # [a, n]
        valid = positive.unsqueeze(2) & negative.unsqueeze(1)  # [a, p, n]
        d_ap = distances.unsqueeze(2)
        d_an = distances.unsqueeze(1)
        semihard = valid & (d_ap < d_an) & (d_an < d_ap + margin)
        chosen = semihard if bool(semihard.any()) else valid
        a, p, n = chosen.nonzero(as_tuple=True)
    return a, p, n


def _closer_probability(embeddings: Tensor, a: Tensor, p: Tensor, n: Tensor,
                        temperature: float) -> Tensor:
    d_ap = (embeddings[a] - embeddings[p]).norm(dim=-1)
    d_an = (embeddings[a] - embeddings[n]).norm(dim=-1)
    return torch.sigmoid((d_an - d_ap) / temperature)


def triplet_relation_loss(student: Tensor, teacher: Tensor, triplets: tuple[Tensor, Tensor, Tensor],
                          temperature: float) -> Tensor:
    """Mean ``KL(Bern(q_t) ‖ Bern(q_s))`` over the triplets, ``q = σ((d_an − d_ap)/τ₁)``.

    Args:
        student: Student embeddings ``(B, D_s)``, L2-normalised.
        teacher: Teacher embeddings ``(B, D_t)``, L2-normalised (no gradient flows into them).
        triplets: ``(anchors, positives, negatives)`` indices into the batch.
        temperature: ``τ₁``.

    Returns:
        The scalar loss; a zero connected to ``student`` when there is no triplet.
    """
    a, p, n = triplets
    if len(a) == 0:
        return student.sum() * 0.0
    q_s = _closer_probability(student.float(), a, p, n, temperature)
    q_t = _closer_probability(teacher.detach().float(), a, p, n, temperature)
    eps = 1e-7
    q_s = q_s.clamp(eps, 1 - eps)
    q_t = q_t.clamp(eps, 1 - eps)
    kl = q_t * (q_t.log() - q_s.log()) + (1 - q_t) * ((1 - q_t).log() - (1 - q_s).log())
    return kl.mean()


def class_centers(embeddings: Tensor, labels: Tensor, num_classes: int) -> Tensor:
    """L2-normalised mean embedding ``(C, D)`` of each class (the teacher's class centres).

    Raises:
        ValueError: a class has no example.
    """
    counts = torch.bincount(labels, minlength=num_classes)
    missing = [c for c in range(num_classes) if int(counts[c]) == 0]
    if missing:
        raise ValueError(f"classes {missing} have no training example, so they have no centre")
    sums = torch.zeros(num_classes, embeddings.shape[1], dtype=torch.float32,
                       device=embeddings.device)
    sums.index_add_(0, labels.to(embeddings.device), embeddings.float())
    return F.normalize(sums / counts.to(sums).unsqueeze(1), dim=-1)


def local_class_loss(student_logits: Tensor, teacher_embeddings: Tensor, centers: Tensor,
                     labels: Tensor, temperature: float) -> Tensor:
    """``KL(softmax(⟨t_i, c_k⟩/τ₂) ‖ softmax(z_ik/τ₂))`` over the classes ``k`` present in the
    batch, averaged over its examples.

    Args:
        student_logits: The student's logits ``(B, C)``.
        teacher_embeddings: The teacher's L2-normalised embeddings ``(B, D_t)`` of the batch.
        centers: The teacher's normalised class centres ``(C, D_t)``.
        labels: The batch's labels ``(B,)`` (they choose the local classes).
        temperature: ``τ₂``.
    """
    local = torch.unique(labels)
    targets = F.softmax(teacher_embeddings.detach().float() @ centers[local].t() / temperature, -1)
    log_student = F.log_softmax(student_logits[:, local].float() / temperature, dim=-1)
    return F.kl_div(log_student, targets, reduction="batchmean")

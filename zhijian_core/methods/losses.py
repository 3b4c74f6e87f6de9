"""Loss terms shared by reuse methods, as pure functions of tensors.

Each is tested against hand-computed values; methods only choose which terms to add and how to
weight them.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from zhijian_core.data.dataset import UNLABELLED


def soft_target_loss(student_logits: Tensor, teacher_logits: Tensor, temperature: float) -> Tensor:
    """Hinton et al.'s soft-target term: ``T² · KL(softmax(t/T) ‖ softmax(s/T))``, batch-averaged.

    The ``T²`` factor keeps the gradient magnitude of the soft term independent of the temperature
    (its gradients scale as ``1/T²``), as recommended in "Distilling the Knowledge in a Neural
    Network" (Hinton, Vinyals & Dean, 2015), section 2.

    Args:
        student_logits: Logits ``(B, C)`` of the model being trained.
        teacher_logits: Logits ``(B, C)`` of the teacher for the same examples (no gradient flows
            into them).
        temperature: Softening temperature ``T > 0``.

    Returns:
        A scalar: the KL divergence summed over classes, averaged over the ``B`` rows, times ``T²``.
    """
    if temperature <= 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    log_student = F.log_softmax(student_logits.float() / temperature, dim=-1)
    log_teacher = F.log_softmax(teacher_logits.detach().float() / temperature, dim=-1)
    kl = F.kl_div(log_student, log_teacher, reduction="batchmean", log_target=True)
    return kl * (temperature * temperature)


def labelled_cross_entropy(logits: Tensor, labels: Tensor) -> Tensor:
    """Mean cross-entropy over the rows whose label is known (``label != UNLABELLED``).

    Args:
        logits: Logits ``(B, C)``.
        labels: Class indices ``(B,)``; ``UNLABELLED`` (``-1``) marks rows without a label.

    Returns:
        A scalar: the mean cross-entropy of the labelled rows, or a zero connected to ``logits``'
        graph when no row is labelled (so that it can always be added to another term).
    """
    known = labels != UNLABELLED
    if not bool(known.any()):
        return logits.sum() * 0.0
    return F.cross_entropy(logits[known].float(), labels[known])


def distillation_loss(student_logits: Tensor, teacher_logits: Tensor, labels: Tensor,
                      temperature: float, alpha: float) -> Tensor:
    """Knowledge-distillation objective: ``alpha · soft + (1 - alpha) · hard``.

    Args:
        student_logits: Logits ``(B, C)`` of the student.
        teacher_logits: Logits ``(B, C)`` of the teacher for the same rows.
        labels: Class indices ``(B,)``; unlabelled rows (a transfer set) count in the soft term
            only.
        temperature: Softening temperature of the soft term.
        alpha: Weight in ``[0, 1]`` of the soft term; the hard-label term gets ``1 - alpha``.

    Returns:
        The scalar loss.
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must lie in [0, 1], got {alpha}")
    soft = soft_target_loss(student_logits, teacher_logits, temperature)
    hard = labelled_cross_entropy(student_logits, labels)
    return alpha * soft + (1.0 - alpha) * hard

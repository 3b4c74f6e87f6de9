"""Config of REFILLED."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, NonNegativeFloat, NonNegativeInt, PositiveFloat, PositiveInt

from zhijian_core.methods.base import MethodConfig


class RefilledConfig(MethodConfig):
    """Teacher, student, and the settings of the embedding and classifier stages."""

    teacher: Annotated[str, Field(min_length=1)]
    """Model reference of the teacher: ``run:<run id or method name>`` or a PTM spec. Only its
    embedding (pooled features) is used, so it may have been trained on other classes."""
    student: str | None = None
    """PTM spec of the student; ``None`` trains the comparison's PTM."""
    embedding_epochs: NonNegativeInt = 1
    """Epochs of stage 1 (the student's embedding matches the teacher's triplet comparisons);
    ``0`` skips it."""
    embedding_lr: PositiveFloat = 5e-5
    """Learning rate (AdamW) of stage 1."""
    embedding_batch_size: PositiveInt = 32
    """Batch size of stage 1 (triplets are formed within a batch)."""
    margin: NonNegativeFloat = 0.2
    """Margin of the semi-hard triplets mined in the student's normalised embedding."""
    comparison_temperature: PositiveFloat = 0.1
    """Temperature ``τ₁`` of the triplet comparisons ``σ((d_an − d_ap)/τ₁)``."""
    class_temperature: PositiveFloat = 0.1
    """Temperature ``τ₂`` of the local class targets and of the student's logits in stage 2."""
    teaching_weight: NonNegativeFloat = 1.0
    """Weight ``λ`` of stage 2's local distillation term (the cross-entropy has weight 1)."""

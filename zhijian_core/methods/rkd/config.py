"""Config of relational knowledge distillation."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, NonNegativeFloat

from zhijian_core.methods.base import MethodConfig


class RKDConfig(MethodConfig):
    """Teacher, student and the weights of the two relational terms."""

    teacher: Annotated[str, Field(min_length=1)]
    """Model reference of the teacher: ``run:<run id or method name>`` or a PTM spec (its
    pooled features are the teacher's embedding; its classes need not be the task's)."""
    student: str | None = None
    """PTM spec of the student; ``None`` trains the comparison's PTM."""
    distance_weight: NonNegativeFloat = 1.0
    """Weight ``λ_D`` of the distance-wise term (the paper's metric-learning setting: 1)."""
    angle_weight: NonNegativeFloat = 2.0
    """Weight ``λ_A`` of the angle-wise term (the paper's metric-learning setting: 2)."""

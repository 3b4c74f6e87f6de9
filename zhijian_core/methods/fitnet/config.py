"""Config of FitNets."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, NonNegativeInt, PositiveFloat, PositiveInt

from zhijian_core.methods.base import MethodConfig


class FitNetConfig(MethodConfig):
    """Teacher, student, where the hint goes, the hint stage and the distillation stage."""

    teacher: Annotated[str, Field(min_length=1)]
    """Model reference of the teacher: ``run:<run id or method name>`` (a finalized run of this
    comparison) or a PTM spec; it must classify the task's classes (stage 2 distils its logits)."""
    student: str | None = None
    """PTM spec of the student; ``None`` trains the comparison's PTM."""
    hint_block: int | None = None
    """Block group of the teacher whose output is the hint (negative: from the end); ``None``: its
    middle block."""
    guided_block: int | None = None
    """Block group of the student guided by the hint (negative: from the end); ``None``: its
    middle block."""
    hint_epochs: NonNegativeInt = 1
    """Epochs of the first stage (hint training of the student up to the guided block and the
    regressor); ``0`` skips it."""
    hint_lr: PositiveFloat = 1e-4
    """Learning rate (AdamW) of the hint stage."""
    hint_batch_size: PositiveInt = 32
    """Batch size of the hint stage."""
    temperature: PositiveFloat = 4.0
    """Softening temperature of the distillation stage."""
    alpha: Annotated[float, Field(ge=0.0, le=1.0)] = 0.9
    """Weight of the soft-target term in the distillation stage; labels get ``1 - alpha``."""

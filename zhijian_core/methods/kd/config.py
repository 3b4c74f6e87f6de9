"""Config of knowledge distillation."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, NonNegativeInt, PositiveFloat, PositiveInt

from zhijian_core.methods.base import MethodConfig


class KDConfig(MethodConfig):
    """Teacher, student and the weighting of the distillation objective."""

    teacher: Annotated[str, Field(min_length=1)]
    """Model reference of the teacher: ``run:<run id or method name>`` (a finalized run of this
    comparison) or a PTM spec."""
    student: str | None = None
    """PTM spec of the student; ``None`` distils into the comparison's PTM."""
    student_blocks: PositiveInt | None = None
    """Distil into a graft: the student PTM cut after its first ``student_blocks`` block groups,
    plus a new head (see the ``graft`` method); ``None``: the whole student PTM."""
    temperature: PositiveFloat = 4.0
    """Softening temperature ``T`` of both teacher and student softmaxes in the soft term."""
    alpha: Annotated[float, Field(ge=0.0, le=1.0)] = 0.9
    """Weight of the soft-target term; the hard-label cross-entropy gets ``1 - alpha``."""
    transfer_size: NonNegativeInt | None = None
    """Examples taken from the split's left-over pool (``rest``), without their labels, and added to
    the training data as a transfer set the teacher labels; ``0``: none; ``None``: all of them."""

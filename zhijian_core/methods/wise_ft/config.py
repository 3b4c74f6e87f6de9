"""Config of WiSE-FT."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, PositiveFloat

from zhijian_core.methods.base import MethodConfig
from zhijian_core.methods.merge_config import Reference

Alpha = Annotated[float, Field(ge=0.0, le=1.0)]


class WiseFTConfig(MethodConfig):
    """The two ends and the mixing coefficient."""

    fine_tuned: Reference
    """The fine-tuned end: ``run:<label or run id>`` of a model tuned end to end from the
    comparison PTM on this task (``full_finetune`` for example)."""
    zero_shot: Reference | None = None
    """The zero-shot end: ``run:<label or run id>`` of a ``linear_probe`` run on this PTM and task;
    ``None``: fit that probe here (multinomial logistic regression on the frozen features)."""
    alpha: Alpha | None = None
    """Mixing coefficient ``α`` in ``θ = (1 - α) θ_zero_shot + α θ_fine_tuned``; ``None``: the
    value of ``alphas`` with the best validation macro-F1 (the first of equal ones)."""
    alphas: tuple[Alpha, ...] = Field(default=tuple(i / 10 for i in range(11)), min_length=1)
    """Candidates tried on validation when ``alpha`` is ``None``."""
    probe_l2: PositiveFloat = 1e-3
    """L2 penalty on the weights of the probe fitted when ``zero_shot`` is ``None``."""

"""Config of TIES merging."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, PositiveFloat

from zhijian_core.methods.merge_config import TaskMergeConfig


class TiesConfig(TaskMergeConfig):
    """Per-task ingredients tuned from the comparison PTM, the trim density and the scaling."""

    density: Annotated[float, Field(gt=0.0, le=1.0)] = 0.2
    """Fraction ``k`` of each task vector's entries kept by the trim step (largest magnitudes over
    the whole vector); the paper's default is 20%."""
    scaling: PositiveFloat = 1.0
    """``λ`` in ``θ = θ_PTM + λ τ_merged``; the paper uses 1 when no validation data is used."""

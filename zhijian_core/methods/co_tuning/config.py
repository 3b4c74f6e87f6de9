"""Config of Co-Tuning."""

from __future__ import annotations

from pydantic import NonNegativeFloat

from zhijian_core.methods.base import MethodConfig


class CoTuningConfig(MethodConfig):
    """The weight of the source-label term."""

    trade_off: NonNegativeFloat = 2.3
    """Weight ``λ`` of the source-label cross-entropy (the target cross-entropy has weight 1);
    2.3 is the weight the Co-Tuning reference implementations use."""

"""Config of LayerNorm / BatchNorm tuning."""

from __future__ import annotations

from zhijian_core.methods.base import NormStatisticsConfig


class LNTuningConfig(NormStatisticsConfig):
    """Which parameters train besides the normalisation layers."""

    train_head: bool = True
    """Whether the new classification head trains with the normalisation layers."""

"""Config of BitFit."""

from __future__ import annotations

from zhijian_core.methods.base import NormStatisticsConfig


class BitFitConfig(NormStatisticsConfig):
    """Which parameters train besides the biases."""

    train_head: bool = True
    """Whether the new classification head trains with the biases (the paper trains it)."""

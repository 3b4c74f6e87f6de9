"""Config of BitFit."""

from __future__ import annotations

from zhijian_core.methods.base import MethodConfig


class BitFitConfig(MethodConfig):
    """Which parameters train besides the biases."""

    train_head: bool = True
    """Whether the new classification head trains with the biases (the paper trains it)."""

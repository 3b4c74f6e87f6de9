"""Config of BitFit."""

from __future__ import annotations

from typing import Literal

from zhijian_core.methods.base import MethodConfig


class BitFitConfig(MethodConfig):
    """Which parameters train besides the biases."""

    train_head: bool = True
    """Whether the new classification head trains with the biases (the paper trains it)."""
    norm_statistics: Literal["source", "task"] = "source"
    """Batch norms' running statistics while training: the PTM's (``source``), or re-estimated on
    the task's batches (``task``, as when training BatchNorm alone from scratch)."""

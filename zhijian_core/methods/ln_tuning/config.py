"""Config of LayerNorm / BatchNorm tuning."""

from __future__ import annotations

from typing import Literal

from zhijian_core.methods.base import MethodConfig


class LNTuningConfig(MethodConfig):
    """Which parameters train besides the normalisation layers."""

    train_head: bool = True
    """Whether the new classification head trains with the normalisation layers."""
    norm_statistics: Literal["source", "task"] = "source"
    """Batch norms' running statistics while training: the PTM's (``source``), or re-estimated on
    the task's batches (``task``, as when training BatchNorm alone from scratch)."""

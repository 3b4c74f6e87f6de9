"""Config of AdaptFormer."""

from __future__ import annotations

from pydantic import PositiveFloat, PositiveInt

from zhijian_core.methods.base import MethodConfig


class AdaptFormerConfig(MethodConfig):
    """Size and scale of the parallel branches."""

    bottleneck: PositiveInt = 64
    """Hidden size of each branch (the paper's default for ViT-B is 64)."""
    scale: PositiveFloat = 0.1
    """Fixed factor ``s`` on each branch's output (the paper's 0.1)."""
    train_head: bool = True
    """Whether the new classification head trains with the branches."""

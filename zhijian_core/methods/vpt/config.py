"""Config of visual prompt tuning."""

from __future__ import annotations

from pydantic import PositiveInt

from zhijian_core.methods.base import MethodConfig


class VPTConfig(MethodConfig):
    """Number and depth of the prompt tokens."""

    tokens: PositiveInt = 10
    """Number of prompt tokens (per block when ``deep``)."""
    deep: bool = False
    """VPT-deep (a new set of prompts before every block) rather than VPT-shallow (one set before
    the first block)."""
    train_head: bool = True
    """Whether the new classification head trains with the prompts."""

"""Config of LoRA."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, PositiveFloat, PositiveInt

from zhijian_core.methods.base import MethodConfig


class LoraMethodConfig(MethodConfig):
    """Rank, scaling and placement of the low-rank updates."""

    r: PositiveInt = 8
    """Rank of each update ``ΔW = (alpha / r) · B · A``."""
    alpha: PositiveFloat = 16.0
    """Scaling numerator: the update is multiplied by ``alpha / r``."""
    dropout: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.0
    """Dropout probability on the input of the low-rank branch during training."""
    target_modules: Annotated[tuple[str, ...], Field(min_length=1)] | None = None
    """Names (or name suffixes) of the linear or convolution modules to adapt; ``None`` takes the
    backbone's defaults (``query``/``value`` for BERT, ``qkv`` for a ViT, 1x1 convolutions for a
    CNN)."""
    train_head: bool = True
    """Whether the new classification head trains with the low-rank updates."""

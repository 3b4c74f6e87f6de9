"""Config of SSF."""

from __future__ import annotations

from zhijian_core.methods.base import MethodConfig


class SSFConfig(MethodConfig):
    """What trains besides the scale and shift factors."""

    train_head: bool = True
    """Whether the new classification head trains with the scale and shift factors."""

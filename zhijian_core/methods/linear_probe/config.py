"""Config of linear probing."""

from __future__ import annotations

from zhijian_core.methods.base import MethodConfig


class LinearProbeConfig(MethodConfig):
    """Linear probing has no settings of its own: the head's training is set by the trainer."""

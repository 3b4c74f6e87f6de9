"""Linear probing: a new linear head on the frozen PTM's features."""

from zhijian_core.methods.linear_probe.config import LinearProbeConfig
from zhijian_core.methods.linear_probe.method import LinearProbe

__all__ = ["LinearProbe", "LinearProbeConfig"]

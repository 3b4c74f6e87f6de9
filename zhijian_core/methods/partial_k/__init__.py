"""Partial fine-tuning: the last k block groups of the PTM and a new head train."""

from zhijian_core.methods.partial_k.config import PartialKConfig
from zhijian_core.methods.partial_k.method import PartialK, tail_modules

__all__ = ["PartialK", "PartialKConfig", "tail_modules"]

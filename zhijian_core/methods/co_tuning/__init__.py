"""Co-Tuning: the PTM's own classifier trained alongside, on labels translated to its classes."""

from zhijian_core.methods.co_tuning.config import CoTuningConfig
from zhijian_core.methods.co_tuning.method import CoTuning
from zhijian_core.methods.co_tuning.relationship import direct_relationship, soft_cross_entropy

__all__ = ["CoTuning", "CoTuningConfig", "direct_relationship", "soft_cross_entropy"]

"""TIES merging: trim task vectors, elect a sign per weight, average the agreeing values."""

from zhijian_core.methods.ties.config import TiesConfig
from zhijian_core.methods.ties.method import TiesMerging

__all__ = ["TiesConfig", "TiesMerging"]

"""Fisher merging: a per-weight average of the ingredients weighted by their diagonal Fishers."""

from zhijian_core.methods.fisher.config import FisherConfig
from zhijian_core.methods.fisher.estimate import diagonal_fisher
from zhijian_core.methods.fisher.method import FisherMerging

__all__ = ["FisherConfig", "FisherMerging", "diagonal_fisher"]

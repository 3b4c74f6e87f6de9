"""Nearest class mean: classify by the closest class centroid of frozen PTM features."""

from zhijian_core.methods.ncm.config import NCMConfig
from zhijian_core.methods.ncm.method import NearestClassMean, class_means, nearest_mean_head

__all__ = ["NCMConfig", "NearestClassMean", "class_means", "nearest_mean_head"]

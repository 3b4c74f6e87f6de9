"""Head2Toe: a linear head on features selected from every block of the frozen PTM."""

from zhijian_core.methods.head2toe.config import Head2ToeConfig
from zhijian_core.methods.head2toe.method import Head2Toe
from zhijian_core.methods.head2toe.selection import group_lasso_scores, layer_scales

__all__ = ["Head2Toe", "Head2ToeConfig", "group_lasso_scores", "layer_scales"]

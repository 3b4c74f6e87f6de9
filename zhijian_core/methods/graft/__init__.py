"""Grafting: a smaller target made of the PTM's first k block groups and a new head."""

from zhijian_core.methods.graft.config import GraftConfig
from zhijian_core.methods.graft.method import Graft, graft_architecture, graft_target

__all__ = ["Graft", "GraftConfig", "graft_architecture", "graft_target"]

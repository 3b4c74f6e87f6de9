"""L2-SP: fine-tuning regularised towards the starting point (the PTM's weights)."""

from zhijian_core.methods.l2sp.config import L2SPConfig
from zhijian_core.methods.l2sp.method import L2SP
from zhijian_core.methods.l2sp.penalty import l2sp_penalty

__all__ = ["L2SP", "L2SPConfig", "l2sp_penalty"]

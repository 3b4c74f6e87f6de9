"""SSF: per-channel scale and shift after the PTM's layers, merged into them when finished."""

from zhijian_core.methods.ssf.config import SSFConfig
from zhijian_core.methods.ssf.method import SSF, ssf_targets

__all__ = ["SSF", "SSFConfig", "ssf_targets"]

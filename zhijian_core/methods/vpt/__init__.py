"""Visual prompt tuning (shallow and deep); prompt tuning and deep prompts for text encoders."""

from zhijian_core.methods.vpt.config import VPTConfig
from zhijian_core.methods.vpt.method import VPT

__all__ = ["VPT", "VPTConfig"]

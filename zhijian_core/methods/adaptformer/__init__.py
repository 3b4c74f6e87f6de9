"""AdaptFormer: a scaled bottleneck branch in parallel with every transformer MLP."""

from zhijian_core.methods.adaptformer.config import AdaptFormerConfig
from zhijian_core.methods.adaptformer.method import AdaptFormer

__all__ = ["AdaptFormer", "AdaptFormerConfig"]

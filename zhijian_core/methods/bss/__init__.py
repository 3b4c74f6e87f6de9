"""Batch Spectral Shrinkage: fine-tuning that shrinks the features' smallest singular values."""

from zhijian_core.methods.bss.config import BSSConfig
from zhijian_core.methods.bss.method import BatchSpectralShrinkage
from zhijian_core.methods.bss.penalty import spectral_shrinkage

__all__ = ["BSSConfig", "BatchSpectralShrinkage", "spectral_shrinkage"]

"""LayerNorm / BatchNorm tuning: only the normalisation layers' affine parameters train."""

from zhijian_core.methods.ln_tuning.config import LNTuningConfig
from zhijian_core.methods.ln_tuning.method import LNTuning, norm_layers

__all__ = ["LNTuning", "LNTuningConfig", "norm_layers"]

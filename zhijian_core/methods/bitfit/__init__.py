"""BitFit: only the bias terms of the PTM (and a new head) train."""

from zhijian_core.methods.bitfit.config import BitFitConfig
from zhijian_core.methods.bitfit.method import BitFit, bias_names

__all__ = ["BitFit", "BitFitConfig", "bias_names"]

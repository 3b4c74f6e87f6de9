"""WiSE-FT: interpolate the weights of the zero-shot end and the fine-tuned model."""

from zhijian_core.methods.wise_ft.config import WiseFTConfig
from zhijian_core.methods.wise_ft.method import WiseFT
from zhijian_core.methods.wise_ft.probe import fit_logistic_head

__all__ = ["WiseFT", "WiseFTConfig", "fit_logistic_head"]

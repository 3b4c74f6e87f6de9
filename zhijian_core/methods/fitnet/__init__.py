"""FitNets: a student guided by a teacher's intermediate representation, then distilled."""

from zhijian_core.methods.fitnet.config import FitNetConfig
from zhijian_core.methods.fitnet.hint import build_regressor, hint_loss
from zhijian_core.methods.fitnet.method import FitNet

__all__ = ["FitNet", "FitNetConfig", "build_regressor", "hint_loss"]

"""Full fine-tuning: every parameter of the PTM and a new head train."""

from zhijian_core.methods.full_finetune.config import FullFinetuneConfig
from zhijian_core.methods.full_finetune.method import FullFinetune

__all__ = ["FullFinetune", "FullFinetuneConfig"]

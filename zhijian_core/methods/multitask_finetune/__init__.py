"""Multi-task fine-tuning: one backbone trained jointly on several tasks, one head per task."""

from zhijian_core.methods.multitask_finetune.config import MultitaskFinetuneConfig
from zhijian_core.methods.multitask_finetune.method import MultitaskFinetune, multitask_loss

__all__ = ["MultitaskFinetune", "MultitaskFinetuneConfig", "multitask_loss"]

"""Task arithmetic: add scaled task vectors (fine-tuned minus pre-trained weights) to the PTM."""

from zhijian_core.methods.task_arithmetic.config import TaskArithmeticConfig
from zhijian_core.methods.task_arithmetic.method import TaskArithmetic

__all__ = ["TaskArithmetic", "TaskArithmeticConfig"]

"""Knowledge distillation: a student trained on a teacher's softened predictions."""

from zhijian_core.methods.kd.config import KDConfig
from zhijian_core.methods.kd.method import KnowledgeDistillation
from zhijian_core.methods.kd.transfer import preprocessing_difference, with_transfer_set

__all__ = ["KDConfig", "KnowledgeDistillation", "preprocessing_difference", "with_transfer_set"]

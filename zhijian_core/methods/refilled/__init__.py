"""REFILLED: cross-task distillation by relationship matching, in two stages."""

from zhijian_core.methods.refilled.config import RefilledConfig
from zhijian_core.methods.refilled.losses import (class_centers, local_class_loss,
                                                  semihard_triplets, triplet_relation_loss)
from zhijian_core.methods.refilled.method import Refilled

__all__ = ["Refilled", "RefilledConfig", "class_centers", "local_class_loss",
           "semihard_triplets", "triplet_relation_loss"]

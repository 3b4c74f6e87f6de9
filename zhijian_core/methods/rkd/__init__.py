"""Relational knowledge distillation: the student keeps the teacher's distances and angles."""

from zhijian_core.methods.rkd.config import RKDConfig
from zhijian_core.methods.rkd.losses import rkd_angle_loss, rkd_distance_loss
from zhijian_core.methods.rkd.method import RelationalKD

__all__ = ["RKDConfig", "RelationalKD", "rkd_angle_loss", "rkd_distance_loss"]

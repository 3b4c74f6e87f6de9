"""Relational knowledge distillation: cross-entropy plus distance and angle relations."""

from __future__ import annotations

from typing import Mapping

import torch.nn.functional as F
from torch import Tensor, nn

from zhijian_core.errors import MethodError
from zhijian_core.methods.base import Family, MethodContext, trainable_copy
from zhijian_core.methods.registry import register
from zhijian_core.methods.rkd.config import RKDConfig
from zhijian_core.methods.rkd.losses import rkd_angle_loss, rkd_distance_loss
from zhijian_core.methods.teachers import TeacherStudentMethod, teacher_embeddings


@register
class RelationalKD(TeacherStudentMethod):
    """Train a student on ``CE + λ_D · L_RKD-D + λ_A · L_RKD-A`` over its pooled features.

    Paper: Park, Kim, Lu & Cho, "Relational Knowledge Distillation", CVPR 2019. The student's
    embedding (the pooled features feeding its head) is made to keep the *relations* of the
    teacher's: pairwise distances normalised by their mean, and the angles of triplets, each
    compared with the Huber loss. Relations do not depend on the embeddings' sizes, so teacher and
    student may differ in width; the teacher's classes need not be the task's.

    The teacher's embeddings are computed once, in :meth:`prepare`, over the training data and
    indexed per batch; the teacher is not part of the finalized model.

    ``default_train``: learning rate 5e-5, as full fine-tuning.
    """

    name = "rkd"
    family = Family.TUNER
    paper = 'Park, Kim, Lu & Cho, "Relational Knowledge Distillation", CVPR 2019'
    config_class = RKDConfig
    default_train = {"lr": 5e-5}
    config: RKDConfig

    def __init__(self, config: RKDConfig) -> None:
        super().__init__(config)
        self._teacher_embeddings: Tensor | None = None

    def build(self, ctx: MethodContext) -> nn.Module:
        """The student classifier; all but the PTM's own classifier train."""
        student = self.target_ptm(ctx)
        self.check_applicable(student)
        return trainable_copy(student, ctx.num_classes)

    def prepare(self, model: nn.Module, ctx: MethodContext) -> None:
        """Resolve the teacher and cache its embeddings of the training data."""
        teacher, teacher_ptm = self.resolve_teacher(ctx)
        self._teacher_embeddings = teacher_embeddings(ctx, teacher, teacher_ptm,
                                                      self.training_data(ctx))

    def loss(self, model: nn.Module, batch: Mapping[str, Tensor], labels: Tensor,
             indices: Tensor) -> Tensor:
        """Cross-entropy plus the weighted distance-wise and angle-wise relation losses."""
        if self._teacher_embeddings is None:
            raise MethodError(f"method '{self.name}': prepare() must run before loss()")
        features = model.forward_features(batch)
        teacher = self._teacher_embeddings[indices.to(self._teacher_embeddings.device)]
        teacher = teacher.to(features.device)
        loss = F.cross_entropy(model.head(features).float(), labels)
        if self.config.distance_weight:
            loss = loss + self.config.distance_weight * rkd_distance_loss(features, teacher)
        if self.config.angle_weight:
            loss = loss + self.config.angle_weight * rkd_angle_loss(features, teacher)
        return loss

    def finalize(self, model: nn.Module) -> nn.Module:
        """The student classifier alone, in eval mode (the cached teacher embeddings released)."""
        self._teacher_embeddings = None
        return model.eval()

"""REFILLED: match the teacher's triplet comparisons, then distil local class targets."""

from __future__ import annotations

from typing import Mapping

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from zhijian_core.errors import MethodError
from zhijian_core.methods.base import Family, MethodContext, trainable_copy
from zhijian_core.methods.refilled.config import RefilledConfig
from zhijian_core.methods.refilled.losses import (class_centers, local_class_loss,
                                                  semihard_triplets, triplet_relation_loss)
from zhijian_core.methods.registry import register
from zhijian_core.methods.stage_fit import fit_stage, training_tensors
from zhijian_core.methods.teachers import TeacherStudentMethod, teacher_embeddings
from zhijian_core.model import ReuseClassifier


@register
class Refilled(TeacherStudentMethod):
    """Two stages: the embedding learns the teacher's comparisons, then the classifier learns
    the teacher's local class targets.

    Paper: Ye, Lu & Zhan, "Distilling Cross-Task Knowledge via Relationship Matching", CVPR 2020
    (REFILLED: RElationship FacIlitated Local cLassifiEr Distillation). The teacher may have been
    trained on other classes: only its embedding is used.

    * Stage 1 (in :meth:`prepare`): the student's backbone trains so that, for the semi-hard
      triplets of each batch (mined in the student's normalised embedding), the probability
      ``σ((d_an − d_ap)/τ₁)`` that the anchor is nearer its positive than its negative matches the
      teacher's (KL divergence of the two Bernoulli distributions).
    * Stage 2 (the trainer): cross-entropy plus ``λ`` times the KL divergence between the teacher's
      local class targets (softmax over the classes present in the batch of the similarity of the
      teacher's embedding to the teacher's class centres, computed once on the training data) and
      the student's softened logits restricted to those classes.

    The teacher's embeddings are computed once and indexed per batch; the centres are used in
    training only; the finalized model is the student classifier alone.
    ``default_train``: learning rate 5e-5, as full fine-tuning.
    """

    name = "refilled"
    family = Family.TUNER
    paper = ('Ye, Lu & Zhan, "Distilling Cross-Task Knowledge via Relationship Matching", '
             'CVPR 2020')
    config_class = RefilledConfig
    default_train = {"lr": 5e-5}
    config: RefilledConfig

    def __init__(self, config: RefilledConfig) -> None:
        super().__init__(config)
        self._teacher: Tensor | None = None
        self._centers: Tensor | None = None
        self.embedding_history: list[float] = []
        """Mean stage-1 loss of each epoch (for inspection)."""

    def build(self, ctx: MethodContext) -> nn.Module:
        """The student classifier; all but the PTM's own classifier train."""
        student = self.target_ptm(ctx)
        self.check_applicable(student)
        return trainable_copy(student, ctx.num_classes)

    def embedding_objective(self, model: ReuseClassifier, batch: Mapping[str, Tensor],
                            labels: Tensor, teacher: Tensor) -> Tensor:
        """Stage 1's loss on one batch, given the teacher's normalised embeddings of it."""
        student = F.normalize(model.forward_features(batch).float(), dim=-1)
        triplets = semihard_triplets(student.detach(), labels, self.config.margin)
        return triplet_relation_loss(student, teacher, triplets,
                                     self.config.comparison_temperature)

    def prepare(self, model: nn.Module, ctx: MethodContext) -> None:
        """Cache the teacher's embeddings and class centres; run the embedding stage."""
        teacher, teacher_ptm = self.resolve_teacher(ctx)
        data = self.training_data(ctx)
        embeddings = F.normalize(teacher_embeddings(ctx, teacher, teacher_ptm, data), dim=-1)
        labels = torch.as_tensor(data.labels, dtype=torch.long, device=embeddings.device)
        try:
            self._centers = class_centers(embeddings, labels, ctx.num_classes)
        except ValueError as exc:
            raise MethodError(f"method '{self.name}': {exc}") from exc
        self._teacher = embeddings
        if self.config.embedding_epochs == 0:
            return
        tensors = training_tensors(self.name, ctx, self.target_ptm(ctx), data)

        def objective(batch: Mapping[str, Tensor], batch_labels: Tensor, indices: Tensor) -> Tensor:
            return self.embedding_objective(model, batch, batch_labels,
                                            embeddings[indices.to(embeddings.device)])

        self.embedding_history = fit_stage(
            model, model.backbone.parameters(), tensors, objective,
            epochs=self.config.embedding_epochs, batch_size=self.config.embedding_batch_size,
            lr=self.config.embedding_lr, seed=ctx.seed, device=ctx.device)

    def loss(self, model: nn.Module, batch: Mapping[str, Tensor], labels: Tensor,
             indices: Tensor) -> Tensor:
        """Stage 2: cross-entropy plus ``λ`` times the local class distillation term."""
        if self._teacher is None or self._centers is None:
            raise MethodError(f"method '{self.name}': prepare() must run before loss()")
        logits = model(batch)
        teacher = self._teacher[indices.to(self._teacher.device)].to(logits.device)
        teaching = local_class_loss(logits, teacher, self._centers.to(logits.device), labels,
                                    self.config.class_temperature)
        return F.cross_entropy(logits.float(), labels) + self.config.teaching_weight * teaching

    def finalize(self, model: nn.Module) -> nn.Module:
        """The student classifier alone, in eval mode (teacher embeddings and centres released)."""
        self._teacher = None
        self._centers = None
        return model.eval()

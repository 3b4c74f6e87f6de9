"""Knowledge distillation: the student fits the teacher's softened logits plus the hard labels."""

from __future__ import annotations

from typing import Mapping

from torch import Tensor, nn

from zhijian_core.data.dataset import Dataset
from zhijian_core.errors import ConfigError, NotApplicableError
from zhijian_core.methods.base import Family, MethodContext, ReuseMethod, trainable_copy
from zhijian_core.methods.kd.cached import cached_distillation_loss, teacher_logits
from zhijian_core.methods.kd.config import KDConfig
from zhijian_core.methods.kd.transfer import preprocessing_difference, with_transfer_set
from zhijian_core.methods.registry import register
from zhijian_core.model import ArchitectureConfig
from zhijian_core.ptm.loaded import LoadedPTM


@register
class KnowledgeDistillation(ReuseMethod):
    """Train a student on ``alpha · T² · KL(teacher_T ‖ student_T) + (1 - alpha) · CE(labels)``.

    Paper: Hinton, Vinyals & Dean, "Distilling the Knowledge in a Neural Network", NIPS 2014 Deep
    Learning Workshop (arXiv:1503.02531, 2015). Soft targets are the teacher's logits softened by
    the temperature ``T``; the soft term is multiplied by ``T²`` (section 2) and, as in the paper,
    may be computed on a transfer set without labels, where only the soft term applies.

    The teacher's logits are computed once, in :meth:`prepare`, over the whole training data (train
    split plus transfer set) and indexed per batch; the teacher never runs during training and is
    not part of the finalized model (the student alone). The teacher must read the same tensors as
    the student, so both PTMs need identical preprocessing.

    ``default_train``: peak learning rate 5e-5, as full fine-tuning, since every student weight
    trains from its pre-trained value.
    """

    name = "kd"
    family = Family.TUNER
    paper = ('Hinton, Vinyals & Dean, "Distilling the Knowledge in a Neural Network", '
             'NIPS Deep Learning Workshop 2014 (arXiv:1503.02531)')
    config_class = KDConfig
    default_train = {"lr": 5e-5}
    config: KDConfig

    def __init__(self, config: KDConfig) -> None:
        super().__init__(config)
        self._student: LoadedPTM | None = None
        self._teacher_logits: Tensor | None = None

    def target_ptm(self, ctx: MethodContext) -> LoadedPTM:
        """The student PTM (loaded once): the trainer preprocesses the data with it."""
        if self.config.student is None:
            return ctx.ptm
        if self._student is None:
            self._student = ctx.load_ptm(self.config.student)
        return self._student

    def training_data(self, ctx: MethodContext) -> Dataset:
        """The train split, then the transfer set drawn from ``rest`` (labels ``UNLABELLED``)."""
        try:
            return with_transfer_set(ctx.splits.train, ctx.splits.rest, self.config.transfer_size,
                                     ctx.seed)
        except ValueError as exc:
            raise ConfigError(f"method '{self.name}': {exc}; set transfer_size to at most "
                              f"{len(ctx.splits.rest)}, or to null for all of them") from exc

    def build(self, ctx: MethodContext) -> nn.Module:
        """The student classifier (a graft with ``student_blocks``); all but the PTM's own
        classifier train."""
        student = self.target_ptm(ctx)
        self.check_applicable(student)
        if self.config.student_blocks is not None:
            from zhijian_core.methods.graft.method import graft_target

            return graft_target(self.name, student, ctx.num_classes, self.config.student_blocks)
        return trainable_copy(student, ctx.num_classes)

    def architecture(self, ctx: MethodContext) -> ArchitectureConfig:
        """The student's architecture (cut to ``student_blocks`` when distilling into a graft)."""
        if self.config.student_blocks is None:
            return super().architecture(ctx)
        from zhijian_core.methods.graft.method import graft_architecture

        return graft_architecture(self.target_ptm(ctx), ctx.num_classes, self.config.student_blocks)

    def prepare(self, model: nn.Module, ctx: MethodContext) -> None:
        """Resolve the teacher, check it fits the student and the task, cache its logits."""
        teacher, teacher_ptm = ctx.load_model(self.config.teacher)
        student = self.target_ptm(ctx)
        difference = preprocessing_difference(teacher_ptm, student)
        if difference is not None:
            raise NotApplicableError(
                f"method '{self.name}' cannot distil teacher '{self.config.teacher}' "
                f"({teacher_ptm.spec}) into student {student.spec}: {difference}. The teacher "
                "reads the student's input tensors, so choose a teacher and a student whose "
                "preprocessing is identical")
        self._teacher_logits = teacher_logits(self.name, self.config.teacher, teacher, teacher_ptm,
                                              ctx, self.training_data(ctx))

    def loss(self, model: nn.Module, batch: Mapping[str, Tensor], labels: Tensor,
             indices: Tensor) -> Tensor:
        """The distillation objective, with the cached teacher logits of the batch's examples."""
        return cached_distillation_loss(self.name, self._teacher_logits, model, batch, labels,
                                        indices, self.config.temperature, self.config.alpha)

    def finalize(self, model: nn.Module) -> nn.Module:
        """The student classifier alone, in eval mode (the cached teacher logits are released)."""
        self._teacher_logits = None
        return model.eval()

"""FitNets: hint training of the student's lower part, then distillation of the whole student."""

from __future__ import annotations

from typing import Mapping

import torch
from torch import Tensor, nn

from zhijian_core.methods.base import Family, MethodContext, trainable_copy
from zhijian_core.methods.fitnet.config import FitNetConfig
from zhijian_core.methods.fitnet.hint import build_regressor, hint_loss
from zhijian_core.methods.hooks import (check_block_indices, middle_block, output_of_block,
                                        position_mask)
from zhijian_core.methods.kd.cached import cached_distillation_loss, teacher_logits
from zhijian_core.methods.registry import register
from zhijian_core.methods.stage_fit import fit_stage, training_tensors
from zhijian_core.methods.teachers import TeacherStudentMethod
from zhijian_core.model import ReuseClassifier


@register
class FitNet(TeacherStudentMethod):
    """Two stages: hints from the teacher's intermediate layer, then knowledge distillation.

    Paper: Romero, Ballas, Kahou, Chassang, Gatta & Bengio, "FitNets: Hints for Thin Deep Nets",
    ICLR 2015. Stage 1 (in :meth:`prepare`) trains the student up to its *guided* block, together
    with a regressor ``r``, to minimise ``½ ‖u_h(x) − r(v_g(x))‖²`` where ``u_h`` is the output of
    the teacher's *hint* block; only the parameters below the guided block and the regressor
    receive a gradient. Stage 2 (the trainer) trains the whole student with Hinton's distillation
    objective on the teacher's logits (computed once), as the paper's second stage does.

    The regressor exists only during stage 1 and is never part of the target; the finalized model
    is the student classifier alone. ``default_train``: learning rate 5e-5, as full fine-tuning.
    """

    name = "fitnet"
    family = Family.TUNER
    paper = ('Romero, Ballas, Kahou, Chassang, Gatta & Bengio, "FitNets: Hints for Thin Deep '
             'Nets", ICLR 2015')
    config_class = FitNetConfig
    default_train = {"lr": 5e-5}
    config: FitNetConfig

    def __init__(self, config: FitNetConfig) -> None:
        super().__init__(config)
        self._teacher_logits: Tensor | None = None
        self.hint_history: list[float] = []
        """Mean hint loss of each stage-1 epoch (for inspection)."""

    def build(self, ctx: MethodContext) -> nn.Module:
        """The student classifier; all but the PTM's own classifier train (the guided block is
        checked here, the teacher's hint block once the teacher is resolved)."""
        student = self.target_ptm(ctx)
        self.check_applicable(student)
        if self.config.guided_block is not None:
            check_block_indices(self.name, student.spec, student.backbone,
                                [self.config.guided_block])
        return trainable_copy(student, ctx.num_classes)

    def blocks(self, model: ReuseClassifier, teacher: ReuseClassifier,
               ctx: MethodContext) -> tuple[int, int]:
        """``(guided block of the student, hint block of the teacher)``, checked."""
        student_ptm = self.target_ptm(ctx)
        guided = (middle_block(model.backbone) if self.config.guided_block is None
                  else self.config.guided_block)
        hint = (middle_block(teacher.backbone) if self.config.hint_block is None
                else self.config.hint_block)
        [guided] = check_block_indices(self.name, student_ptm.spec, model.backbone, [guided])
        [hint] = check_block_indices(self.name, f"teacher '{self.config.teacher}'",
                                     teacher.backbone, [hint])
        return guided, hint

    def hint_objective(self, model: ReuseClassifier, regressor: nn.Module,
                       teacher: ReuseClassifier, guided: int, hint: int,
                       batch: Mapping[str, Tensor]) -> Tensor:
        """Stage 1's loss on one batch: the hint loss of the regressed guided output."""
        with torch.no_grad():
            target = output_of_block(teacher.backbone, batch, hint)
        regressed = regressor(output_of_block(model.backbone, batch, guided))
        return hint_loss(regressed, target, position_mask(batch, target))

    def prepare(self, model: nn.Module, ctx: MethodContext) -> None:
        """Resolve the teacher, run the hint stage, cache the teacher's logits for stage 2."""
        teacher, teacher_ptm = self.resolve_teacher(ctx)
        teacher.to(ctx.device)
        data = self.training_data(ctx)
        self._teacher_logits = teacher_logits(self.name, self.config.teacher, teacher, teacher_ptm,
                                              ctx, data)
        if self.config.hint_epochs == 0:
            return
        guided, hint = self.blocks(model, teacher, ctx)
        tensors = training_tensors(self.name, ctx, self.target_ptm(ctx), data)
        sample = {name: t[:2].to(ctx.device) for name, t in tensors.batch(torch.arange(2)).items()}
        with torch.no_grad():
            regressor = build_regressor(output_of_block(model.backbone, sample, guided),
                                        output_of_block(teacher.backbone, sample, hint),
                                        self.name).to(ctx.device)

        def objective(batch: Mapping[str, Tensor], labels: Tensor, indices: Tensor) -> Tensor:
            return self.hint_objective(model, regressor, teacher, guided, hint, batch)

        params = [*model.backbone.parameters(), *regressor.parameters()]
        self.hint_history = fit_stage(model, params, tensors, objective,
                                      epochs=self.config.hint_epochs,
                                      batch_size=self.config.hint_batch_size,
                                      lr=self.config.hint_lr, seed=ctx.seed, device=ctx.device)

    def loss(self, model: nn.Module, batch: Mapping[str, Tensor], labels: Tensor,
             indices: Tensor) -> Tensor:
        """Stage 2: the distillation objective with the cached teacher logits of the batch."""
        return cached_distillation_loss(self.name, self._teacher_logits, model, batch, labels,
                                        indices, self.config.temperature, self.config.alpha)

    def finalize(self, model: nn.Module) -> nn.Module:
        """The student classifier alone, in eval mode (the cached teacher logits are released)."""
        self._teacher_logits = None
        return model.eval()

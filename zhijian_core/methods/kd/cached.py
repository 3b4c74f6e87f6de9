"""Distillation on cached teacher logits: computed once over the training data, indexed per batch.

Shared by :mod:`zhijian_core.methods.kd` and FitNet's second stage (which is Hinton's distillation).
"""

from __future__ import annotations

from typing import Mapping

import torch
from torch import Tensor, nn

from zhijian_core.data.dataset import Dataset
from zhijian_core.errors import MethodError
from zhijian_core.methods.base import MethodContext
from zhijian_core.methods.losses import distillation_loss
from zhijian_core.ptm.loaded import LoadedPTM


def teacher_logits(method: str, reference: str, teacher: nn.Module, teacher_ptm: LoadedPTM,
                   ctx: MethodContext, data: Dataset) -> Tensor:
    """The teacher's logits over ``data`` (float32, on the training device), checked against the
    task's classes.

    Raises:
        MethodError: The teacher's logits do not have one column per class of the task.
    """
    logits = ctx.logits_of(teacher, teacher_ptm, data)
    if logits.shape != (len(data), ctx.num_classes):
        raise MethodError(
            f"method '{method}': teacher '{reference}' gave logits of shape "
            f"{tuple(logits.shape)} on {len(data)} examples, but the task has "
            f"{ctx.num_classes} classes; use a teacher trained on this task's classes")
    return logits.detach().to(ctx.device, torch.float32)


def cached_distillation_loss(method: str, cached: Tensor | None, model: nn.Module,
                             batch: Mapping[str, Tensor], labels: Tensor, indices: Tensor,
                             temperature: float, alpha: float) -> Tensor:
    """Hinton's objective for one batch, with the cached teacher logits of its examples.

    Raises:
        MethodError: The logits were not cached (``prepare`` did not run).
    """
    if cached is None:
        raise MethodError(f"method '{method}': prepare() must run before loss()")
    teacher = cached[indices.to(cached.device)]
    student = model(batch)
    return distillation_loss(student, teacher.to(student.device), labels, temperature, alpha)

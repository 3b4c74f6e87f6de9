"""Multi-task fine-tuning: a shared backbone and one head per task, trained on all tasks at once."""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from zhijian_core.data.dataset import Dataset
from zhijian_core.data.multitask import TASK_PAIRS
from zhijian_core.errors import MethodError
from zhijian_core.methods.base import Family, MethodContext, ReuseMethod, trainable_copy
from zhijian_core.methods.multitask_finetune.config import MultitaskFinetuneConfig
from zhijian_core.methods.registry import register
from zhijian_core.model import ReuseClassifier


class MultiTaskClassifier(ReuseClassifier):
    """A :class:`ReuseClassifier` (the served task's ``head``) with the other tasks' heads beside
    it in ``task_heads``; ``forward`` gives the served task's logits."""

    def __init__(self, base: ReuseClassifier, other_classes: Sequence[int]) -> None:
        super().__init__(base.backbone, base.num_classes, base.feature_norm)  # type: ignore[arg-type]
        self.head = base.head
        self.task_heads = nn.ModuleList(nn.Linear(self.head.in_features, n) for n in other_classes)

    def heads(self) -> list[nn.Linear]:
        """Every task's head, the served task's first."""
        return [self.head, *self.task_heads]  # type: ignore[list-item]


def multitask_loss(logits: Sequence[Tensor], labels: Tensor, offsets: Sequence[int]) -> Tensor:
    """Mean over the batch of each example's cross-entropy under its own task's head.

    Task ``t`` owns the combined labels ``offsets[t] .. offsets[t] + C_t - 1`` (``C_t`` the width
    of ``logits[t]``); its examples' labels are shifted back by ``offsets[t]``.

    Args:
        logits: Per task, the logits ``(B, C_t)`` of its head on the whole batch.
        labels: ``(B,)`` combined labels.
        offsets: Per task, the first combined label it owns.
    """
    total = logits[0].new_zeros(())
    for task_logits, offset in zip(logits, offsets):
        mine = (labels >= offset) & (labels < offset + task_logits.shape[-1])
        if bool(mine.any()):
            total = total + F.cross_entropy(task_logits[mine], labels[mine] - offset,
                                            reduction="sum")
    return total / max(1, labels.numel())


def _concatenate(parts: Sequence[Dataset], offsets: Sequence[int]) -> Dataset:
    """The examples of every task in one dataset, task ``t``'s labels shifted by ``offsets[t]``."""
    labels = np.concatenate([p.labels + offset for p, offset in zip(parts, offsets)])
    names = tuple(parts[0].label_names) + tuple(f"{p.name}:{n}" for p in parts[1:]
                                                for n in p.label_names)
    if all(isinstance(p.inputs, np.ndarray) for p in parts):
        inputs: Sequence[object] | np.ndarray = np.concatenate([p.inputs for p in parts])
    else:
        inputs = [item for p in parts for item in p.inputs]
    return Dataset("+".join(p.name for p in parts), parts[0].modality, inputs,  # type: ignore[arg-type]
                   labels.astype(np.int64), names)


def _multitask(model: nn.Module, method: str) -> MultiTaskClassifier:
    if not isinstance(model, MultiTaskClassifier):
        raise MethodError(f"method '{method}' works on the MultiTaskClassifier its build() "
                          f"returns, not a {type(model).__name__}")
    return model


@register
class MultitaskFinetune(ReuseMethod):
    """Fine-tune one copy of the PTM on several tasks at once, with one head per task.

    Paper: Caruana, "Multitask Learning", Machine Learning 28, 1997 (hard parameter sharing: one
    shared representation, a task-specific output layer per task, trained on every task's examples
    together). Training sees the run's own training split and each other task's, drawn with the
    run's sizes and seed; each example's loss is the cross-entropy of its own task's head. Model
    selection uses the run's own validation split, and the finalized model is the shared backbone
    with the run's task head: run it once per task (as the merge methods are) to get one model per
    task head. It is the reference the multi-task merges (task arithmetic, TIES, Fisher) are
    compared with.
    """

    name = "multitask_finetune"
    family = Family.ARCHITECT
    paper = 'Caruana, "Multitask Learning", Machine Learning 28, 1997'
    config_class = MultitaskFinetuneConfig
    default_train = {"lr": 5e-5}
    config: MultitaskFinetuneConfig

    def __init__(self, config: MultitaskFinetuneConfig) -> None:
        super().__init__(config)
        self._offsets: list[int] = []
        self._data: Dataset | None = None
        self._classes: list[int] = []

    def tasks(self, own: str) -> list[str]:
        """The tasks trained together, ``own`` (the run's dataset) first.

        Raises:
            MethodError: ``own`` is not one of the configured tasks, or no task pair holds it.
        """
        tasks = self.config.tasks
        if tasks is None:
            tasks = next((list(pair) for pair in TASK_PAIRS.values() if own in pair), None)
            if tasks is None:
                raise MethodError(
                    f"method '{self.name}': no multi-task setting holds the run's dataset "
                    f"{own!r} (known pairs: {list(TASK_PAIRS.values())}); set `tasks`")
        if own not in tasks:
            raise MethodError(f"method '{self.name}': the run's dataset {own!r} is not one of "
                              f"the tasks {tasks}; run it on one of them")
        return [own, *(t for t in tasks if t != own)]

    def _training_set(self, ctx: MethodContext) -> Dataset:
        if self._data is None:
            if ctx.task_splits is None:
                raise MethodError(f"method '{self.name}' needs the other tasks' splits, and this "
                                  "context cannot draw them (task_splits is None)")
            own = ctx.splits.train
            parts = [own] + [ctx.task_splits(t).train for t in self.tasks(own.name)[1:]]
            if any(p.modality != own.modality for p in parts):
                raise MethodError(f"method '{self.name}': tasks {[p.name for p in parts]} mix "
                                  "text and images")
            self._offsets = [int(x) for x in np.cumsum([0] + [p.num_classes for p in parts])[:-1]]
            self._data = _concatenate(parts, self._offsets)
            self._classes = [p.num_classes for p in parts]
        return self._data

    def build(self, ctx: MethodContext) -> nn.Module:
        """A copy of the PTM with the run's task head and one head per other task; all train."""
        self.check_applicable(ctx.ptm)
        self._training_set(ctx)
        return MultiTaskClassifier(trainable_copy(ctx.ptm, ctx.num_classes), self._classes[1:])

    def training_data(self, ctx: MethodContext) -> Dataset:
        """Every task's training split, labels shifted so that each task owns its own range."""
        return self._training_set(ctx)

    def loss(self, model: nn.Module, batch: Mapping[str, Tensor], labels: Tensor,
             indices: Tensor) -> Tensor:
        """Each example's cross-entropy under its task's head (see :func:`multitask_loss`)."""
        model = _multitask(model, self.name)
        features = model.forward_features(batch)
        return multitask_loss([head(features) for head in model.heads()], labels, self._offsets)

    def finalize(self, model: nn.Module) -> nn.Module:
        """The shared backbone with the run's task head, as a plain classifier in eval mode."""
        model = _multitask(model, self.name)
        final = ReuseClassifier(model.backbone, model.num_classes, model.feature_norm)  # type: ignore[arg-type]
        with torch.no_grad():
            final.head.load_state_dict(model.head.state_dict())
        return final.eval()

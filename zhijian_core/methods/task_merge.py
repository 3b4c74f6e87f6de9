"""The shared behaviour of methods that merge models tuned on different tasks from one PTM.

Task arithmetic, TIES and Fisher merging differ only in how they combine the backbones' weights;
the rest is common: resolve the ingredients, check they share the comparison PTM's architecture,
merge the backbones against the PTM's own (pre-trained) weights, and keep one head per task. The
finalized model is the merged backbone with the head of the configured task (``task``); running the
method once per task gives one model per task head on the same merged backbone.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import ClassVar, Literal

from torch import Tensor, nn

from zhijian_core.errors import MethodError
from zhijian_core.methods.base import Family, MethodContext, ReuseMethod
from zhijian_core.methods.ingredients import (Ingredient, check_mergeable, classifier,
                                              merge_backbones, resolve)
from zhijian_core.methods.merge_config import TaskMergeConfig
from zhijian_core.model import ArchitectureConfig, ReuseClassifier


class TaskMergeMethod(ReuseMethod):
    """Merge per-task ingredients' backbones; keep the selected task's head. Closed form."""

    family: ClassVar[Family] = Family.MERGER
    trains = False
    config: TaskMergeConfig

    def __init__(self, config: TaskMergeConfig) -> None:
        super().__init__(config)
        self._feature_norm: Literal["none", "l2", "cl2n"] = "none"

    @abstractmethod
    def merge_parameters(self, base: dict[str, Tensor], tuned: list[dict[str, Tensor]],
                         ctx: MethodContext, ingredients: list[Ingredient]) -> dict[str, Tensor]:
        """The merged backbone parameters from the PTM's (``base``) and each ingredient's."""

    def build(self, ctx: MethodContext) -> nn.Module:
        """The merged backbone with the selected task's head, frozen."""
        self.check_applicable(ctx.ptm)
        ingredients = resolve(ctx, self.name, self.config.ingredients)
        check_mergeable(self.name, ingredients, ctx.ptm, None)
        task = ingredients[self.config.task_index]
        head_source: ReuseClassifier = task.model  # type: ignore[assignment]
        if head_source.num_classes != ctx.num_classes:
            raise MethodError(
                f"method '{self.name}': task '{task.reference}' has {head_source.num_classes} "
                f"classes but this run's data has {ctx.num_classes}; set `task` to the ingredient "
                "tuned on this run's dataset")
        backbone = merge_backbones(
            ctx.ptm.backbone, [ing.model.backbone for ing in ingredients],  # type: ignore[union-attr]
            lambda base, tuned: self.merge_parameters(base, tuned, ctx, ingredients))
        self._feature_norm = head_source.feature_norm  # type: ignore[assignment]
        return classifier(backbone, head_source)  # type: ignore[arg-type]

    def finalize(self, model: nn.Module) -> nn.Module:
        """The merged classifier itself, in eval mode."""
        return model.eval()

    def architecture(self, ctx: MethodContext) -> ArchitectureConfig:
        """The comparison PTM's skeleton with the task head (and its feature normalisation)."""
        return ArchitectureConfig(ptm=ctx.ptm.spec, num_classes=ctx.num_classes,
                                  feature_norm=self._feature_norm)

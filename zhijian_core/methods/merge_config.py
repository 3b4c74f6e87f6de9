"""Config fields shared by the Merger methods that combine several models."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints, model_validator

from zhijian_core.methods.base import MethodConfig

Reference = Annotated[str, StringConstraints(min_length=1)]
"""A model reference: ``run:<run label or MLflow run id>`` or a PTM spec."""


class IngredientsConfig(MethodConfig):
    """The models a method combines."""

    ingredients: list[Reference] = Field(min_length=1)
    """Model references: ``run:<label or run id>`` (a finalized run) or a PTM spec (its
    nearest-class-mean classifier), resolved in order."""


class TaskMergeConfig(IngredientsConfig):
    """Models tuned on different tasks from one PTM, and the task whose head the result carries."""

    task: Reference | None = None
    """The ingredient (one of ``ingredients``) whose head the finalized model carries, i.e. the task
    this run serves and is evaluated on; ``None``: the first ingredient. Run the method once per
    task to get one model per task head on the same merged backbone."""

    @model_validator(mode="after")
    def _task_is_an_ingredient(self) -> "TaskMergeConfig":
        if self.task is not None and self.task not in self.ingredients:
            raise ValueError(f"task {self.task!r} is not one of the ingredients {self.ingredients}")
        return self

    @property
    def task_index(self) -> int:
        """Index into ``ingredients`` of the task whose head is kept."""
        return 0 if self.task is None else self.ingredients.index(self.task)

"""Config of multi-task fine-tuning."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints, field_validator

from zhijian_core.methods.base import MethodConfig

TaskName = Annotated[str, StringConstraints(min_length=1)]
"""A dataset name (one task of the multi-task setting)."""


class MultitaskFinetuneConfig(MethodConfig):
    """The tasks trained jointly; learning rate and schedule are the trainer's."""

    tasks: list[TaskName] | None = Field(default=None, min_length=2)
    """Datasets of the tasks trained together, the run's own dataset among them (its head is the
    one the finalized model carries); the others are split with the run's sizes and seed. ``None``:
    the pair of :data:`zhijian_core.data.multitask.TASK_PAIRS` that holds the run's dataset."""

    @field_validator("tasks")
    @classmethod
    def _distinct(cls, tasks: list[str] | None) -> list[str] | None:
        if tasks is not None and len(set(tasks)) != len(tasks):
            raise ValueError(f"tasks must be distinct, got {tasks}")
        return tasks

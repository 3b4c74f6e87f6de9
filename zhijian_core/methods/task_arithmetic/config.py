"""Config of task arithmetic."""

from __future__ import annotations

from pydantic import PositiveFloat

from zhijian_core.methods.merge_config import TaskMergeConfig


class TaskArithmeticConfig(TaskMergeConfig):
    """Per-task ingredients tuned from the comparison PTM, and the scaling of their task vectors."""

    scaling: PositiveFloat = 0.4
    """``λ`` in ``θ = θ_PTM + λ Σ_i τ_i``; ``1`` with one task vector gives the fine-tuned model
    back. The paper picks ``λ`` on held-out validation data; 0.3-0.5 is typical for several tasks."""

"""Task arithmetic: ``θ = θ_PTM + λ Σ_i (θ_i - θ_PTM)`` over the backbones, one head per task."""

from __future__ import annotations

from torch import Tensor

from zhijian_core.methods.base import MethodContext
from zhijian_core.methods.ingredients import Ingredient
from zhijian_core.methods.merge_math import add_task_vectors, task_vector
from zhijian_core.methods.registry import register
from zhijian_core.methods.task_arithmetic.config import TaskArithmeticConfig
from zhijian_core.methods.task_merge import TaskMergeMethod


@register
class TaskArithmetic(TaskMergeMethod):
    """Add the task vectors of models tuned on different tasks to the pre-trained weights.

    Paper: Ilharco, Ribeiro, Wortsman, Gururangan, Schmidt, Hajishirzi & Farhadi, "Editing Models
    with Task Arithmetic", ICLR 2023. A task vector is ``τ_i = θ_i - θ_PTM`` (fine-tuned minus
    pre-trained backbone weights); multi-task addition gives ``θ_PTM + λ Σ_i τ_i``. Each task keeps
    its own head (the paper's classification heads are task-specific too); the finalized model
    carries the head of ``task``. Floating-point buffers (BatchNorm statistics) are averaged over
    the ingredients instead, since they are statistics rather than weights.
    """

    name = "task_arithmetic"
    paper = ('Ilharco, Ribeiro, Wortsman, Gururangan, Schmidt, Hajishirzi & Farhadi, "Editing '
             'Models with Task Arithmetic", ICLR 2023')
    config_class = TaskArithmeticConfig
    config: TaskArithmeticConfig

    def merge_parameters(self, base: dict[str, Tensor], tuned: list[dict[str, Tensor]],
                         ctx: MethodContext, ingredients: list[Ingredient]) -> dict[str, Tensor]:
        """``θ_PTM + λ Σ_i τ_i``."""
        return add_task_vectors(base, [task_vector(base, t) for t in tuned], self.config.scaling)

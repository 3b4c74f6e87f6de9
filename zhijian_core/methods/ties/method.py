"""TIES merging: trim, elect sign, disjoint merge, then add to the pre-trained backbone."""

from __future__ import annotations

from torch import Tensor

from zhijian_core.methods.base import MethodContext
from zhijian_core.methods.ingredients import Ingredient
from zhijian_core.methods.merge_math import task_vector, ties_merge
from zhijian_core.methods.registry import register
from zhijian_core.methods.task_merge import TaskMergeMethod
from zhijian_core.methods.ties.config import TiesConfig


@register
class TiesMerging(TaskMergeMethod):
    """Merge task vectors while resolving their interference.

    Paper: Yadav, Tam, Choshen, Raffel & Bansal, "TIES-Merging: Resolving Interference When
    Merging Models", NeurIPS 2023. For task vectors ``τ_i = θ_i - θ_PTM``: (1) *trim* each to its
    top-``k`` fraction of entries by magnitude (the rest set to zero); (2) *elect* per entry the
    sign of the summed trimmed vectors; (3) *disjoint merge*: average, per entry, only the values
    whose sign agrees with the elected one; then ``θ = θ_PTM + λ τ_merged`` (Algorithm 1). Heads
    stay per task; the finalized model carries the head of ``task``.
    """

    name = "ties"
    paper = ('Yadav, Tam, Choshen, Raffel & Bansal, "TIES-Merging: Resolving Interference When '
             'Merging Models", NeurIPS 2023')
    config_class = TiesConfig
    config: TiesConfig

    def merge_parameters(self, base: dict[str, Tensor], tuned: list[dict[str, Tensor]],
                         ctx: MethodContext, ingredients: list[Ingredient]) -> dict[str, Tensor]:
        """TIES over the ingredients' task vectors."""
        vectors = [task_vector(base, t) for t in tuned]
        return ties_merge(base, vectors, self.config.density, self.config.scaling)

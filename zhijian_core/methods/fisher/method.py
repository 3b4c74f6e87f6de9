"""Fisher merging: ``θ = Σ_i F_i θ_i / Σ_i F_i`` per backbone weight, one head per task."""

from __future__ import annotations

import copy

import numpy as np
from torch import Tensor

from zhijian_core.errors import MethodError
from zhijian_core.methods.base import MethodContext
from zhijian_core.methods.fisher.config import FisherConfig
from zhijian_core.methods.fisher.estimate import diagonal_fisher
from zhijian_core.methods.ingredients import Ingredient
from zhijian_core.methods.merge_math import fisher_weighted_average
from zhijian_core.methods.registry import register
from zhijian_core.methods.task_merge import TaskMergeMethod


@register
class FisherMerging(TaskMergeMethod):
    """Average the ingredients' backbones, each weight weighted by each model's diagonal Fisher.

    Paper: Matena & Raffel, "Merging Models with Fisher-Weighted Averaging", NeurIPS 2022. Each
    ingredient's diagonal Fisher is the expected squared gradient of its log-likelihood, the label
    drawn from its own predictive distribution (exactly, over all classes) on examples of this
    run's training split; the merged weight is ``Σ_i F_i θ_i / Σ_i F_i`` (equal Fishers give the
    plain average). Each task keeps its own head; the finalized model carries the head of
    ``task``. Floating-point buffers (BatchNorm statistics) are averaged uniformly.

    The Fishers are estimated on the inputs of the task this run serves: for tasks that share
    their inputs (the airline-tweet tasks) that is each model's own input distribution; for tasks
    with different inputs it is an approximation.
    """

    name = "fisher"
    paper = ('Matena & Raffel, "Merging Models with Fisher-Weighted Averaging", NeurIPS 2022')
    config_class = FisherConfig
    config: FisherConfig

    def merge_parameters(self, base: dict[str, Tensor], tuned: list[dict[str, Tensor]],
                         ctx: MethodContext, ingredients: list[Ingredient]) -> dict[str, Tensor]:
        """Estimate each ingredient's Fisher on the training inputs, then Fisher-average."""
        if ctx.tensors is None:
            raise MethodError(f"method '{self.name}' needs the context's `tensors` to run "
                              "gradients through each ingredient; this context has none")
        train = ctx.splits.train
        chosen = np.sort(np.random.default_rng(ctx.seed).permutation(len(train))
                         [: self.config.fisher_examples])
        if len(chosen) == 0:
            raise MethodError(f"method '{self.name}' needs training examples to estimate Fishers")
        fishers = []
        for ing in ingredients:
            inputs = {k: v.to(ctx.device) for k, v in ctx.tensors(ing.ptm, train.subset(chosen)).items()}
            model = copy.deepcopy(ing.model).to(ctx.device)
            params = {}
            for name, p in model.backbone.named_parameters():  # type: ignore[union-attr]
                if name in base:
                    p.requires_grad_(True)
                    params[name] = p
            fisher = diagonal_fisher(model, inputs, params)
            fishers.append({name: fisher[name].to(base[name].device) for name in base})
        return fisher_weighted_average(tuned, fishers, self.config.floor)

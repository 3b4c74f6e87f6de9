"""Model soups (uniform and greedy): one model whose weights average fine-tuned ingredients."""

from __future__ import annotations

from typing import Callable, Sequence

from torch import Tensor, nn

from zhijian_core.methods.base import Family, MethodContext, ReuseMethod
from zhijian_core.methods.ingredients import (check_mergeable, float_state, resolve,
                                              validation_score, with_state)
from zhijian_core.methods.merge_math import weighted_average
from zhijian_core.methods.registry import register
from zhijian_core.methods.soup.config import SoupConfig
from zhijian_core.model import ArchitectureConfig


def greedy_soup(states: Sequence[dict[str, Tensor]], score: Callable[[dict[str, Tensor]], float]
                ) -> tuple[list[int], float]:
    """Wortsman et al.'s greedy soup (Recipe 1) over ``states``.

    Ingredients are sorted by their own score, best first (ties keep their given order); the soup
    starts as the best one, and each next ingredient is kept only if the average of the soup with
    it scores at least as well as the soup. The result is never worse than the best ingredient.

    Args:
        states: The ingredients' state dicts.
        score: Validation score of a state dict (higher is better).

    Returns:
        The indices kept (in the order added) and the soup's score.
    """
    own = [score(dict(state)) for state in states]
    order = sorted(range(len(states)), key=lambda i: -own[i])
    kept, best = [order[0]], own[order[0]]
    for i in order[1:]:
        candidate = score(weighted_average([states[j] for j in [*kept, i]]))
        if candidate >= best:
            kept, best = [*kept, i], candidate
    return kept, best


@register
class ModelSoup(ReuseMethod):
    """Average the weights of models fine-tuned from the same PTM on the same task.

    Paper: Wortsman, Ilharco, Gadre, Roelofs, Gontijo-Lopes, Morcos, Namkoong, Farhadi, Carmon,
    Kornblith & Schmidt, "Model soups: averaging weights of multiple fine-tuned models improves
    accuracy without increasing inference time", ICML 2022. The *uniform* soup averages every
    ingredient; the *greedy* soup (Recipe 1) sorts the ingredients by validation score and adds
    each only if the soup's validation score does not drop. All weights average, heads included
    (every ingredient solves this task); the result is one model of one ingredient's size.
    """

    name = "soup"
    family = Family.MERGER
    paper = ('Wortsman, Ilharco, Gadre, Roelofs, Gontijo-Lopes, Morcos, Namkoong, Farhadi, '
             'Carmon, Kornblith & Schmidt, "Model soups: averaging weights of multiple fine-tuned '
             'models improves accuracy without increasing inference time", ICML 2022')
    config_class = SoupConfig
    trains = False
    config: SoupConfig

    def __init__(self, config: SoupConfig) -> None:
        super().__init__(config)
        self.kept: list[str] = []
        """References of the ingredients in the soup (after :meth:`build`)."""
        self._feature_norm = "none"

    def build(self, ctx: MethodContext) -> nn.Module:
        """The soup: a frozen copy of the first ingredient carrying the averaged weights."""
        self.check_applicable(ctx.ptm)
        ingredients = resolve(ctx, self.name, self.config.ingredients)
        check_mergeable(self.name, ingredients, ctx.ptm, ctx.num_classes)
        template, ptm = ingredients[0].model, ingredients[0].ptm
        states = [float_state(ing.model) for ing in ingredients]
        if self.config.recipe == "uniform":
            kept = list(range(len(states)))
        else:
            kept, _ = greedy_soup(
                states, lambda state: validation_score(ctx, with_state(template, state), ptm))
        self.kept = [ingredients[i].reference for i in kept]
        self._feature_norm = template.feature_norm  # type: ignore[union-attr]
        return with_state(template, weighted_average([states[i] for i in kept]))

    def finalize(self, model: nn.Module) -> nn.Module:
        """The soup itself, in eval mode."""
        return model.eval()

    def architecture(self, ctx: MethodContext) -> ArchitectureConfig:
        """The comparison PTM's skeleton with this task's head."""
        return ArchitectureConfig(ptm=ctx.ptm.spec, num_classes=ctx.num_classes,
                                  feature_norm=self._feature_norm)  # type: ignore[arg-type]

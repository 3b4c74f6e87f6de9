"""Config of model soups."""

from __future__ import annotations

from typing import Literal

from zhijian_core.methods.merge_config import IngredientsConfig


class SoupConfig(IngredientsConfig):
    """The ingredients (runs of this task tuned from the comparison PTM) and the recipe."""

    recipe: Literal["uniform", "greedy"] = "uniform"
    """``uniform``: average every ingredient. ``greedy``: sort the ingredients by validation
    macro-F1, then add each to the soup only if the soup's validation macro-F1 does not drop."""

"""Config of logit ensembles."""

from __future__ import annotations

from typing import Literal

from zhijian_core.methods.merge_config import IngredientsConfig


class LogitEnsembleConfig(IngredientsConfig):
    """The members (runs of this task, or PTMs) and what is averaged."""

    combine: Literal["logits", "probabilities"] = "probabilities"
    """``logits``: the mean of the members' logits. ``probabilities``: the log of the mean of their
    softmax probabilities (the classic ensemble of predictive distributions)."""

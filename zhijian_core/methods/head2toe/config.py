"""Config of Head2Toe."""

from __future__ import annotations

from pydantic import PositiveFloat, PositiveInt

from zhijian_core.methods.base import MethodConfig


class Head2ToeConfig(MethodConfig):
    """How many features are selected, and the group-lasso fit that ranks them."""

    num_features: PositiveInt = 512
    """Number of features kept among all blocks' pooled outputs; at most their total size."""
    l21: PositiveFloat = 1e-3
    """Weight of the group-lasso penalty ``Σ_j ‖W_j‖₂`` (one group per feature) in the ranking
    fit."""
    selection_steps: PositiveInt = 300
    """Full-batch Adam steps of the ranking fit on the training split's features."""
    selection_lr: PositiveFloat = 1e-2
    """Learning rate of the ranking fit."""

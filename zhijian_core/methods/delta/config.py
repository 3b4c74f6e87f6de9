"""Config of DELTA."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, NonNegativeFloat, PositiveFloat, PositiveInt

from zhijian_core.methods.base import MethodConfig


class DeltaConfig(MethodConfig):
    """Weights of the two terms, the regularised blocks, and the channel attention."""

    alpha: NonNegativeFloat = 0.01
    """Weight ``α`` of the feature-map term ``Σ_j W_j ‖FM_j(w, x) − FM_j(w⁰, x)‖²``."""
    beta: NonNegativeFloat = 0.01
    """Weight ``β`` of the L2 penalty ``‖w_head‖²`` on the new head."""
    blocks: Annotated[list[int], Field(min_length=1)] = [-1]
    """Block groups whose outputs (feature maps or token states) are regularised (negative: from
    the end); default: the last one."""
    attention: bool = True
    """Weight channels by their importance to the source model on the task (the paper's DELTA);
    ``False``: uniform weights ``1/C`` (the unweighted feature-map distance)."""
    attention_temperature: PositiveFloat = 5.0
    """Temperature of the softmax over the standardised loss rises (the authors' code: 5)."""
    attention_examples: PositiveInt = 32
    """Training examples on which channel importance is measured (one forward pass per channel
    of each regularised block)."""

"""Typed, JSON-able descriptions of what a method inserted into a backbone (part of the
:class:`~zhijian_core.model.ArchitectureConfig` a stored run is rebuilt from).

Module paths (``targets``) are relative to the backbone's wrapped library model
(``backbone.model``), as ``named_modules()`` spells them.
"""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt, PositiveFloat, PositiveInt

Targets = Annotated[tuple[str, ...], Field(min_length=1)]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SerialAdapterSpec(_Spec):
    """Houlsby bottleneck adapters after the given projections."""

    kind: Literal["serial_adapter"] = "serial_adapter"
    targets: Targets
    """Linear layers whose output passes through ``y + up(gelu(down(y)))``."""
    hidden: PositiveInt
    """Bottleneck size."""


class ParallelAdapterSpec(_Spec):
    """AdaptFormer branches beside the given MLPs."""

    kind: Literal["parallel_adapter"] = "parallel_adapter"
    targets: Targets
    """MLP modules (or post-norm MLP output layers, see ``residual_input``) that get a branch."""
    hidden: PositiveInt
    """Bottleneck size."""
    scale: PositiveFloat
    """Fixed scale ``s`` of the branch's output."""
    residual_input: bool
    """Whether each target is a post-norm output layer ``f(h, r)`` whose residual ``r`` is the
    MLP's input (BERT), rather than the MLP itself (pre-norm ViT)."""


class ScaleShiftSpec(_Spec):
    """SSF scale-shift layers that stayed unmerged (their layer had no bias to take the shift)."""

    kind: Literal["scale_shift"] = "scale_shift"
    targets: Targets
    """Layers whose output is scaled and shifted per channel."""


class PromptSpec(_Spec):
    """Learned prompt tokens in a token backbone's sequence."""

    kind: Literal["prompts"] = "prompts"
    tokens: PositiveInt
    """Number of prompt tokens."""
    deep: bool
    """One set of prompts per block (deep) or one before the first block (shallow)."""


Insertion = Annotated[Union[SerialAdapterSpec, ParallelAdapterSpec, ScaleShiftSpec, PromptSpec],
                      Field(discriminator="kind")]
"""One kind of inserted module, told apart by ``kind``."""


class FeatureSelectionSpec(_Spec):
    """Features selected among every block's pooled output (Head2Toe)."""

    layer_dims: Annotated[tuple[PositiveInt, ...], Field(min_length=1)]
    """Size of each block's pooled features, in block order."""
    index: Annotated[tuple[NonNegativeInt, ...], Field(min_length=1)]
    """Kept positions of the concatenated features, sorted and distinct."""

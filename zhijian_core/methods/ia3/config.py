"""Config of IA3."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, model_validator

from zhijian_core.methods.base import MethodConfig


class IA3Config(MethodConfig):
    """Placement of the rescaling vectors."""

    target_modules: Annotated[tuple[str, ...], Field(min_length=1)] | None = None
    """Names (or name suffixes) of the linear or convolution layers whose activations are rescaled;
    ``None`` takes the backbone's defaults: keys, values and the second MLP layer of a BERT; the
    fused ``qkv`` projection and the second MLP layer of a ViT; the 1x1 convolutions of a CNN."""
    feedforward_modules: tuple[str, ...] | None = None
    """Those of ``target_modules`` rescaled on their input rather than their output (the paper's
    ``l_ff`` on the MLP's hidden activation); ``None`` with ``target_modules`` unset takes the
    backbone's defaults, and with ``target_modules`` set means none."""
    train_head: bool = True
    """Whether the new classification head trains with the vectors."""

    @model_validator(mode="after")
    def _feedforward_among_targets(self) -> "IA3Config":
        if self.feedforward_modules and self.target_modules is None:
            raise ValueError("feedforward_modules needs target_modules (it must be a subset)")
        extra = set(self.feedforward_modules or ()) - set(self.target_modules or ())
        if extra:
            raise ValueError(f"feedforward_modules {sorted(extra)} are not in target_modules")
        return self

"""Config of Houlsby adapters."""

from __future__ import annotations

from pydantic import PositiveInt

from zhijian_core.methods.base import MethodConfig


class AdapterConfig(MethodConfig):
    """Size of the adapters and what trains with them."""

    bottleneck: PositiveInt = 64
    """Hidden size ``m`` of each adapter (the paper uses 8 to 256)."""
    train_layer_norms: bool = True
    """Whether the backbone's layer norms train too, as in the paper."""
    train_head: bool = True
    """Whether the new classification head trains with the adapters."""

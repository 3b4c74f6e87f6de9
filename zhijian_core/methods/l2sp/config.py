"""Config of L2-SP."""

from __future__ import annotations

from pydantic import NonNegativeFloat

from zhijian_core.methods.base import MethodConfig


class L2SPConfig(MethodConfig):
    """The two weights of the L2-SP penalty (the paper's α and β)."""

    alpha: NonNegativeFloat = 0.1
    """Weight α of ``α/2 · ‖w_S − w_S⁰‖²``, the pull of the backbone towards the PTM's weights."""
    beta: NonNegativeFloat = 0.01
    """Weight β of ``β/2 · ‖w_new‖²``, plain L2 on the new head."""

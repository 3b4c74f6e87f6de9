"""Config of Batch Spectral Shrinkage."""

from __future__ import annotations

from pydantic import NonNegativeFloat, PositiveInt

from zhijian_core.methods.base import MethodConfig


class BSSConfig(MethodConfig):
    """How many singular values are shrunk, and how hard (the paper's k and η)."""

    k: PositiveInt = 1
    """Number ``k`` of smallest singular values of the batch feature matrix that are penalised."""
    eta: NonNegativeFloat = 0.001
    """Weight ``η`` of the penalty ``Σ_{i=1..k} σ²_{-i}``."""

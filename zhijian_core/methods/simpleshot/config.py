"""Config of SimpleShot."""

from __future__ import annotations

from zhijian_core.methods.base import MethodConfig


class SimpleShotConfig(MethodConfig):
    """SimpleShot has no settings: CL2N and the Euclidean nearest class mean are the method."""

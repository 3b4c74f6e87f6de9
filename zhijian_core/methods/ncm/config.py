"""Config of the nearest-class-mean classifier."""

from __future__ import annotations

from zhijian_core.methods.base import MethodConfig


class NCMConfig(MethodConfig):
    """Whether features are compared on the unit sphere."""

    normalize: bool = True
    """L2-normalise features before averaging and at inference (the model's ``feature_norm`` is
    ``l2``); ``False`` compares raw features."""

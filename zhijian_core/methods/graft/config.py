"""Config of grafting."""

from __future__ import annotations

from pydantic import PositiveInt

from zhijian_core.methods.base import MethodConfig


class GraftConfig(MethodConfig):
    """How much of the PTM the target keeps."""

    blocks: PositiveInt = 3
    """Number of block groups (transformer layers, CNN stages or blocks) kept from the input end;
    at most the backbone's number of block groups."""

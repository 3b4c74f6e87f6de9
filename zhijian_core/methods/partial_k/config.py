"""Config of partial-k fine-tuning."""

from __future__ import annotations

from pydantic import PositiveInt

from zhijian_core.methods.base import MethodConfig


class PartialKConfig(MethodConfig):
    """How many of the backbone's last block groups train."""

    k: PositiveInt = 2
    """Number of block groups (transformer layers, CNN stages), counted from the output end, that
    train with the head; at most the backbone's number of block groups."""

"""Config of full fine-tuning."""

from __future__ import annotations

from zhijian_core.methods.base import MethodConfig


class FullFinetuneConfig(MethodConfig):
    """Full fine-tuning has no settings of its own: learning rate and schedule are the trainer's."""

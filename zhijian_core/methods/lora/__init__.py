"""LoRA: trainable low-rank updates of the PTM's projection weights, merged in when finished."""

from zhijian_core.methods.lora.adapters import inject_lora, merge_lora
from zhijian_core.methods.lora.config import LoraMethodConfig
from zhijian_core.methods.lora.method import Lora

__all__ = ["Lora", "LoraMethodConfig", "inject_lora", "merge_lora"]

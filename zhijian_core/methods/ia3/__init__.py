"""IA3: learned vectors rescale keys, values and feed-forward activations; merged at the end."""

from zhijian_core.methods.ia3.adapters import inject_ia3
from zhijian_core.methods.ia3.config import IA3Config
from zhijian_core.methods.ia3.method import IA3

__all__ = ["IA3", "IA3Config", "inject_ia3"]

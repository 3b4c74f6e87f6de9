"""Houlsby adapters: bottlenecks after every attention and MLP sublayer of a transformer."""

from zhijian_core.methods.adapter.config import AdapterConfig
from zhijian_core.methods.adapter.method import Adapter

__all__ = ["Adapter", "AdapterConfig"]

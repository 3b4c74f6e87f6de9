"""The one rule shared by ZhiJian's explicit registries (methods, PTM sources, dataset formats)."""

from __future__ import annotations

from typing import TypeVar

T = TypeVar("T")


def add_unique(registry: dict[str, T], key: str, value: T, error: type[Exception], what: str) -> T:
    """Add ``value`` under ``key``; re-adding the same value is a no-op, another value is ``error``."""
    existing = registry.get(key)
    if existing is not None and existing is not value:
        owner = f"{getattr(existing, '__module__', '?')}.{getattr(existing, '__qualname__', existing)}"
        raise error(f"{what} '{key}' is already registered by {owner}")
    registry[key] = value
    return value

"""One-line summaries of pydantic validation errors, for ``{"error": ...}`` answers."""

from __future__ import annotations

from typing import Any, Iterable

MAX_ITEMS = 5


def summary(errors: Iterable[dict[str, Any]]) -> str:
    """``where: what`` of the first few errors (``loc`` entries ``body`` left out), ``;``-joined."""
    parts = []
    for item in list(errors)[:MAX_ITEMS]:
        where = ".".join(str(p) for p in item.get("loc", ()) if p != "body") or "body"
        parts.append(f"{where}: {item.get('msg', 'invalid')}")
    return "; ".join(parts)

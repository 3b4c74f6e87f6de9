"""The explicit registry of PTM sources: one key, one loader; registering a key twice fails.

Keys are the spec kinds (``timm``, ``hf``, ``local``) and the packaged short names
(``minilm-l6``, ...). Built-in sources live in ``zhijian_core.ptm.sources.<module>`` and register
themselves when imported; the registry imports them on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Callable

from zhijian_core._registry import add_unique
from zhijian_core.errors import PTMError

if TYPE_CHECKING:
    from zhijian_core.ptm.loaded import LoadedPTM
    from zhijian_core.ptm.spec import PTMSpec

SourceLoader = Callable[["PTMSpec", bool], "LoadedPTM"]
"""``loader(spec, pretrained)`` builds the model of ``spec``, randomly initialised if not
``pretrained``."""

BUILTIN_SOURCE_MODULES: tuple[str, ...] = (
    "timm_models",
    "hf_dir",
    "minilm",
    "efficientnet_lite",
)
"""Modules of ``zhijian_core.ptm.sources`` that register the built-in sources."""

_REGISTRY: dict[str, SourceLoader] = {}
_builtins_loaded = False


def register_source(key: str, loader: SourceLoader) -> SourceLoader:
    """Register ``loader`` under ``key``; a different loader under a taken key is an error.

    Args:
        key: A spec kind (``timm``, ``hf``, ``local``) or a packaged short name.
        loader: The function that loads specs of this key.

    Returns:
        ``loader``, so that this can be used as a decorator-like call.

    Raises:
        PTMError: ``key`` is already registered to another loader.
    """
    return add_unique(_REGISTRY, key, loader, PTMError, "PTM source")


def _load_builtins() -> None:
    global _builtins_loaded
    if not _builtins_loaded:
        for module in BUILTIN_SOURCE_MODULES:
            importlib.import_module(f"zhijian_core.ptm.sources.{module}")
        _builtins_loaded = True


def available_sources() -> dict[str, SourceLoader]:
    """All registered sources by key, built-ins included, sorted by key."""
    _load_builtins()
    return dict(sorted(_REGISTRY.items()))


def source_key(spec: PTMSpec) -> str:
    """The registry key that loads ``spec``: its kind, or its short name for a packaged PTM."""
    return spec.name if spec.kind == "packaged" else spec.kind


def get_source(spec: PTMSpec) -> SourceLoader:
    """Return the loader registered for ``spec``.

    Args:
        spec: A parsed spec.

    Returns:
        The loader.

    Raises:
        PTMError: No source is registered for the spec's key.
    """
    sources = available_sources()
    key = source_key(spec)
    if key not in sources:
        raise PTMError(f"no PTM source is registered for '{key}' (from spec {spec.raw!r}); "
                       f"registered sources: {', '.join(sources)}")
    return sources[key]

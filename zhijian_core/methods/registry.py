"""The explicit registry of reuse methods: one name, one class; registering a name twice fails."""

from __future__ import annotations

import difflib
import importlib
from typing import Any, Mapping

from pydantic import ValidationError

from zhijian_core._registry import add_unique
from zhijian_core.errors import ConfigError, MethodError
from zhijian_core.methods.base import ReuseMethod

# Built-in methods, each a package ``zhijian_core.methods.<name>`` that registers itself.
BUILTIN_METHODS: tuple[str, ...] = (
    "linear_probe",
    "partial_k",
    "full_finetune",
    "lora",
    "kd",
    "ncm",
    "bitfit",
    "ia3",
    "adapter",
    "adaptformer",
    "vpt",
    "ssf",
    "ln_tuning",
    "head2toe",
    "graft",
    "fitnet",
    "rkd",
    "l2sp",
    "delta",
    "bss",
    "co_tuning",
    "refilled",
    "simpleshot",
    "knn",
    "logit_ensemble",
    "soup",
    "wise_ft",
    "task_arithmetic",
    "ties",
    "fisher",
    "multitask_finetune",
)

_REGISTRY: dict[str, type[ReuseMethod]] = {}
_builtins_loaded = False


def register(cls: type[ReuseMethod]) -> type[ReuseMethod]:
    """Class decorator: add ``cls`` under ``cls.name``; a second class under one name is an error."""
    return add_unique(_REGISTRY, cls.name, cls, MethodError, "method name")


def _load_builtins() -> None:
    global _builtins_loaded
    if not _builtins_loaded:
        for name in BUILTIN_METHODS:
            importlib.import_module(f"zhijian_core.methods.{name}")
        _builtins_loaded = True


def available_methods() -> dict[str, type[ReuseMethod]]:
    """All registered methods by name, built-ins included, sorted by family then name."""
    _load_builtins()
    return dict(sorted(_REGISTRY.items(), key=lambda kv: (kv[1].family.value, kv[0])))


def get_method_class(name: str) -> type[ReuseMethod]:
    """The class registered under ``name``; an unknown name raises with the known ones listed."""
    methods = available_methods()
    if name not in methods:
        close = difflib.get_close_matches(name, methods, n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        raise MethodError(f"unknown method '{name}'.{hint} Known methods: {', '.join(methods)}")
    return methods[name]


def create_method(name: str, config: Mapping[str, Any] | None = None) -> ReuseMethod:
    """Instantiate method ``name`` with its config validated; every problem is reported together."""
    cls = get_method_class(name)
    try:
        parsed = cls.config_class.model_validate(dict(config or {}))
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '<config>'}: {err['msg']}"
            for err in exc.errors())
        fields = ", ".join(cls.config_class.model_fields) or "(none)"
        raise ConfigError(f"invalid config for method '{name}': {problems}. "
                          f"Accepted fields: {fields}") from exc
    return cls(parsed)

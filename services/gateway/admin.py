"""The admin API under ``/admin/`` (the middleware authenticates every path under it first).

Every change goes through the registry's Python API (:mod:`zhijian_core.registry`), so the gates
and the audit trail apply exactly as from the command line; the served models then follow at once.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, Callable, TypeVar

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from services.errors import (ConflictError, InvalidInputError, RegistryUnavailableError,
                             UnknownModelError, UnknownVersionError)
from services.gateway.inference import Gateway
from services.host import SERVING_ALIASES
from zhijian_core.errors import (AliasNotFoundError, ConfigError, InvalidNameError,
                                 ModelNotFoundError, PromotionError, RegistryLockError,
                                 VersionNotFoundError, ZhijianError)
from zhijian_core.names import check_model_name

if TYPE_CHECKING:
    from zhijian_core.registry import Registry
    from zhijian_core.registry.gates import GateResult

ACTOR = "admin-api"
"""Actor recorded in the audit trail for changes made through the admin API."""
T = TypeVar("T")


class PromoteBody(BaseModel):
    """``POST /admin/models/{m}/promote``."""

    model_config = ConfigDict(extra="forbid")

    version: int = Field(ge=1)
    alias: str
    """``production``, ``canary`` (needs ``percent``), ``shadow`` or a team alias."""
    percent: int | None = Field(default=None, ge=1, le=100)
    force: bool = False
    """Promote although a gate failed (needs ``reason``)."""
    reason: str = Field(default="", max_length=2000)


class RollbackBody(BaseModel):
    """``POST /admin/models/{m}/rollback``."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(default="", max_length=2000)


class CanaryBody(BaseModel):
    """``POST /admin/models/{m}/canary``: the canary's traffic percent."""

    model_config = ConfigDict(extra="forbid")

    percent: int = Field(ge=1, le=100)
    reason: str = Field(default="", max_length=2000)


def _service_error(exc: ZhijianError) -> Exception:
    if isinstance(exc, ModelNotFoundError):
        return UnknownModelError(str(exc))
    if isinstance(exc, (VersionNotFoundError, AliasNotFoundError)):
        return UnknownVersionError(str(exc))
    if isinstance(exc, RegistryLockError):
        return RegistryUnavailableError(str(exc))
    if isinstance(exc, PromotionError):
        return ConflictError(str(exc))
    if isinstance(exc, ConfigError):
        return InvalidInputError(str(exc))
    return RegistryUnavailableError(str(exc))


async def _call(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a synchronous registry call in a worker thread, mapping core errors."""
    try:
        return await asyncio.to_thread(function, *args, **kwargs)
    except ZhijianError as exc:
        raise _service_error(exc) from exc


def _model(name: str) -> str:
    """``name`` if it follows the names grammar; else 404, as for any unknown model."""
    try:
        return check_model_name(name)
    except InvalidNameError as exc:
        raise UnknownModelError(f"unknown model: {exc}") from exc


def _version_rows(info: Any) -> list[dict[str, Any]]:
    return [{"version": v.version, "created_at": v.created_at, "aliases": v.aliases}
            for v in info.versions]


def admin_router(gateway: Gateway, registry: "Registry") -> APIRouter:
    """The admin routes, changing ``registry`` and refreshing ``gateway``'s served models."""
    from zhijian_core.registry import promotion

    router = APIRouter(prefix="/admin", tags=["Admin"])
    fleet = gateway.fleet

    def traffic(name: str) -> dict[str, Any]:
        serving = fleet.serving.get(name, {})
        percent = fleet.percents.get(name) if "canary" in serving else None
        split = {"production": 100 - (percent or 0)} if "production" in serving else {}
        if percent:
            split["canary"] = percent
        return {"serving": serving, "split_percent": split,
                "shadow": serving.get("shadow"), "error": fleet.errors.get(name)}

    @router.get("/models")
    async def list_models() -> dict[str, Any]:
        """Registered models with aliases and canary percent, and what each served model serves."""
        models = await _call(registry.list_models)
        return {"models": [{"name": m.name, "aliases": m.aliases, "canary_percent": m.canary_percent,
                            "served": m.name in fleet.hosts, **traffic(m.name)} for m in models]}

    @router.get("/models/{model}")
    async def show(model: str) -> dict[str, Any]:
        """One model: versions, aliases, canary percent, and the live traffic split."""
        model = _model(model)
        info = await _call(registry.show, model)
        return {"name": info.name, "aliases": info.aliases, "canary_percent": info.canary_percent,
                "versions": _version_rows(info), "served": info.name in fleet.hosts,
                **traffic(info.name)}

    async def warmup_gate(model: str, version: int, alias: str) -> "GateResult | None":
        """``serving_warmup``: the version verified, loaded and warmed up on one of the model's
        hosts before a serving alias moves to it (``None`` for an unserved model or a team
        alias, which no host follows). A failure refuses the promotion (409), on record, and the
        version serving now keeps serving."""
        from zhijian_core.registry.gates import GateResult

        if model not in fleet.hosts or alias not in SERVING_ALIASES:
            return None
        readiness = await fleet.hosts[model].preflight(version)
        if readiness.ready:
            return GateResult(name="serving_warmup", status="passed",
                              detail=f"v{version} loaded and warmed up on a model host")
        return GateResult(name="serving_warmup", status="failed", detail=readiness.reason)

    async def after_change(model: str, decision: Any) -> dict[str, Any]:
        if model in fleet.hosts:
            await fleet.refresh(model)
        return {"decision": decision.model_dump(mode="json"), **traffic(model)}

    @router.post("/models/{model}/promote")
    async def promote(model: str, body: PromoteBody) -> dict[str, Any]:
        """Promote a version to an alias through the registry's gates (audited)."""
        model = _model(model)
        warmup = await warmup_gate(model, body.version, body.alias)
        decision = await _call(promotion.promote, registry, model, body.version, body.alias,
                               percent=body.percent, force=body.force, reason=body.reason,
                               actor=ACTOR, checks=[warmup] if warmup else [])
        return await after_change(model, decision)

    @router.post("/models/{model}/rollback")
    async def rollback(model: str, body: RollbackBody) -> dict[str, Any]:
        """Return production to the previous committed production version (audited)."""
        model = _model(model)
        decision = await _call(promotion.rollback, registry, model, actor=ACTOR, reason=body.reason)
        return await after_change(model, decision)

    @router.post("/models/{model}/canary")
    async def set_canary(model: str, body: CanaryBody) -> dict[str, Any]:
        """Set the canary's traffic percent (a canary promotion of the current canary version)."""
        model = _model(model)
        aliases = await _call(registry.aliases, model)
        if "canary" not in aliases:
            raise ConflictError(f"model '{model}' has no canary; promote a version to canary first")
        decision = await _call(promotion.promote, registry, model, aliases["canary"], "canary",
                               percent=body.percent, reason=body.reason, actor=ACTOR)
        return await after_change(model, decision)

    @router.post("/reload")
    async def reload() -> dict[str, Any]:
        """Have every served model follow the registry now."""
        serving = await fleet.refresh()
        return {"serving": serving, "errors": dict(fleet.errors)}

    return router

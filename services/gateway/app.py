"""The gateway's FastAPI application: OIP v2, the ``/v1`` predict route, the admin API, and the
one error mapping (FastAPI's own 422, 404 and 405 answers replaced by ``{"error": ...}`` ones)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import TYPE_CHECKING, Any, AsyncIterator, Callable

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

import zhijian_core
from services.errors import (InvalidInputError, MethodNotAllowedError, RouteNotFoundError,
                             ServiceError, error_headers, public_message, status_for)
from services.gateway.admin import admin_router
from services.gateway.config import GatewayConfig
from services.gateway.dashboard import dashboard_router
from services.gateway.fleet import Fleet
from services.gateway.inference import Gateway
from services.gateway.middleware import GatewayMiddleware
from services.gateway.oip import infer_request_schemas, oip_router
from services.gateway.predict import predict_request_schemas, predict_router
from services.metrics import CONTENT_TYPE, exposition, metrics
from services.validation import summary

if TYPE_CHECKING:
    from zhijian_core.registry import Registry

log = logging.getLogger("zhijian.gateway")


def _error(exc: BaseException) -> JSONResponse:
    return JSONResponse({"error": public_message(exc)}, status_code=status_for(exc),
                        headers=error_headers(exc))


def _install_error_handlers(app: FastAPI) -> None:
    async def service_error(request: Request, exc: Exception) -> JSONResponse:
        return _error(exc)

    async def validation_error(request: Request, exc: Exception) -> JSONResponse:
        errors = exc.errors() if isinstance(exc, RequestValidationError) else []
        return _error(InvalidInputError(f"invalid request: {summary(errors)}"))

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        status = getattr(exc, "status_code", 500)
        if status == 404:
            return _error(RouteNotFoundError(f"no route for {request.method} {request.url.path}"))
        if status == 405:
            return _error(MethodNotAllowedError(f"{request.method} is not allowed on "
                                                f"{request.url.path}"))
        return _error(InvalidInputError(str(getattr(exc, "detail", "bad request"))))

    app.add_exception_handler(ServiceError, service_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)


def _install_openapi(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, routes=app.routes,
                                 description=app.description)
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            components.update(infer_request_schemas())  # bodies the routes read by hand
            components.update(predict_request_schemas())
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


GATEWAY_DEPLOYMENT = "gateway"
"""The ``deployment`` label of the gateway's replica metrics."""


def _install_metrics(app: FastAPI) -> None:
    started = time.monotonic()
    m = metrics()
    m.replicas.labels(GATEWAY_DEPLOYMENT).set(1)

    @app.get("/metrics", include_in_schema=False)
    async def prometheus_metrics() -> Response:
        """Every metric of this node in Prometheus' classic text format (no authentication)."""
        m.uptime.labels(GATEWAY_DEPLOYMENT).set(time.monotonic() - started)
        return Response(await asyncio.to_thread(exposition), media_type=CONTENT_TYPE)


async def _poll(fleet: Fleet, interval_s: float) -> None:
    while True:
        await asyncio.sleep(interval_s)
        try:
            await fleet.refresh()
        except Exception:  # keep following the registry; the next round may succeed
            log.exception("following the registry failed")


def create_app(config: GatewayConfig, fleet: Fleet, registry: "Registry | None" = None,
               on_started: Callable[[], object] | None = None) -> FastAPI:
    """The gateway application.

    Args:
        config: Gateway settings (the admin token among them).
        fleet: The served models and their hosts.
        registry: The model registry the admin API changes; ``None`` leaves only ``/admin/reload``.
        on_started: Called once start-up is done, before the first request (a replica freezes
            its start-up heap there: :func:`services.heap.settle`).

    On start-up (the ASGI lifespan) every host follows the registry once, then every
    ``config.poll_interval_s`` seconds.
    """
    gateway = Gateway(config, fleet)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await fleet.refresh()
        if on_started is not None:
            on_started()
        poller = (asyncio.ensure_future(_poll(fleet, config.poll_interval_s))
                  if config.poll_interval_s > 0 else None)
        try:
            yield
        finally:
            if poller is not None:
                poller.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await poller

    app = FastAPI(title="ZhiJian serving", version=zhijian_core.__version__, lifespan=lifespan,
                  redirect_slashes=False,  # a trailing slash is 404 JSON, not a redirect
                  description="Open Inference Protocol v2 (REST), a simple predict route, and the "
                              "admin API. Every error answer is JSON {\"error\": \"...\"}.")
    _install_error_handlers(app)
    _install_openapi(app)
    app.include_router(oip_router(gateway))
    app.include_router(predict_router(gateway))
    if registry is not None:
        app.include_router(admin_router(gateway, registry))
    else:
        @app.post("/admin/reload", tags=["Admin"])
        async def reload() -> dict[str, Any]:
            """Have every served model follow its source now."""
            return {"serving": await fleet.refresh(), "errors": dict(fleet.errors)}
    _install_metrics(app)
    app.include_router(dashboard_router(gateway))
    app.add_middleware(GatewayMiddleware, admin_token=config.admin_token.get_secret_value(),
                       max_body_bytes=config.max_body_bytes, models=fleet.hosts,
                       api_key=None if config.api_key is None else config.api_key.get_secret_value(),
                       admission=gateway.admission)
    app.state.gateway = gateway
    return app

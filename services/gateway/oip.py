"""Open Inference Protocol v2 routes: health, server and model metadata, readiness, infer,
repository index, and Triton's statistics extension."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

import zhijian_core
from services.errors import NotImplementedByServerError, NotReadyError
from services.gateway.inference import Gateway
from services.gateway.middleware import MODEL_VERSION
from services.protocol.codec import HEADER_LENGTH, decode_infer_request, encode_infer_response
from services.protocol.models import InferRequest, ModelMetadata, ServerMetadata

SERVER_NAME = "zhijian"
EXTENSIONS = ["binary_tensor_data", "statistics"]
INFER_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/InferRequest"}},
            "application/octet-stream": {
                "schema": {"type": "string", "format": "binary",
                           "description": "Triton's binary tensor extension: a JSON InferRequest of "
                                          "Inference-Header-Content-Length bytes, then the tensors"}},
        },
    }
}
"""The OpenAPI request body of infer (read by hand, since the binary extension is not JSON)."""


def oip_router(gateway: Gateway) -> APIRouter:
    """The OIP v2 routes over ``gateway``."""
    router = APIRouter(prefix="/v2", tags=["Open Inference Protocol v2"])
    fleet = gateway.fleet

    @router.get("/health/live")
    async def live() -> dict[str, bool]:
        """The server is up."""
        return {"live": True}

    @router.get("/health/ready")
    async def ready() -> dict[str, bool]:
        """Every served model can answer with its production version."""
        for name, host in fleet.hosts.items():
            readiness = await host.readiness(None)
            if not readiness.ready:
                raise NotReadyError(f"model '{name}' is not ready: {readiness.reason}")
        return {"ready": True}

    @router.get("")
    async def server_metadata() -> ServerMetadata:
        """Server name, version and protocol extensions."""
        return ServerMetadata(name=SERVER_NAME, version=zhijian_core.__version__,
                              extensions=EXTENSIONS)

    @router.post("/repository/index")
    async def repository_index() -> list[dict[str, Any]]:
        """Served models with the version behind each serving alias."""
        index = []
        for name in sorted(fleet.hosts):
            readiness = await fleet.hosts[name].readiness(None)
            for alias, version in sorted(readiness.versions.items()):
                index.append({"name": name, "version": str(version), "alias": alias,
                              "state": "READY", "reason": ""})
            if not readiness.versions:
                index.append({"name": name, "version": "", "alias": "", "state": "UNAVAILABLE",
                              "reason": readiness.reason})
        return index

    @router.post("/repository/models/{model}/load")
    @router.post("/repository/models/{model}/unload")
    async def repository_control(model: str) -> None:
        """Not implemented: which versions serve is decided by the registry's aliases."""
        raise NotImplementedByServerError(
            "explicit model loading is not implemented: the service serves the registry's "
            "production, canary and shadow versions; promote a version to change them")

    @router.get("/models/stats")
    async def all_statistics() -> dict[str, Any]:
        """Statistics of every served model."""
        stats: list[dict[str, Any]] = []
        for name in sorted(fleet.hosts):
            stats += (await fleet.hosts[name].statistics(None))["model_stats"]
        return {"model_stats": stats}

    async def metadata(model: str, version: str | None) -> ModelMetadata:
        host = fleet.host(model)
        return await host.metadata(None if version is None else fleet.version(version))

    async def model_ready(model: str, version: str | None) -> dict[str, Any]:
        readiness = await fleet.host(model).readiness(None if version is None
                                                      else fleet.version(version))
        if not readiness.ready:
            raise NotReadyError(f"model '{model}' is not ready: {readiness.reason}")
        return {"name": model, "ready": True}

    async def statistics(model: str, version: str | None) -> dict[str, Any]:
        host = fleet.host(model)
        stats = await host.statistics(None if version is None else fleet.version(version))
        return {"model_stats": stats["model_stats"], "host": stats["host"],
                "shadow": gateway.shadow.report(model)}

    async def infer(request: Request, model: str, version: str | None) -> Response:
        fleet.host(model)  # 404 before reading the body
        decoded = decode_infer_request(await request.body(), request.headers.get(HEADER_LENGTH))
        answer = await gateway.infer(request, model, version, decoded.inputs, decoded.outputs,
                                     decoded.id, decoded.timeout_s)
        binary = {name: decoded.binary_outputs.get(name, decoded.binary_default)
                  for name in answer.outputs}
        body, header_length = encode_infer_response(model, answer.version, decoded.id,
                                                    answer.outputs, binary)
        headers = {MODEL_VERSION: str(answer.version)}
        if header_length is None:
            return Response(body, media_type="application/json", headers=headers)
        headers[HEADER_LENGTH] = str(header_length)
        return Response(body, media_type="application/octet-stream", headers=headers)

    @router.get("/models/{model}")
    async def model_metadata(model: str) -> ModelMetadata:
        """Metadata of the production version: one input set (the raw input); tensor inputs in
        ``parameters``."""
        return await metadata(model, None)

    @router.get("/models/{model}/versions/{version}")
    async def version_metadata(model: str, version: str) -> ModelMetadata:
        """Metadata of one version."""
        return await metadata(model, version)

    @router.get("/models/{model}/ready")
    async def ready_model(model: str) -> dict[str, Any]:
        """200 when the production version can answer, else 503."""
        return await model_ready(model, None)

    @router.get("/models/{model}/versions/{version}/ready")
    async def ready_version(model: str, version: str) -> dict[str, Any]:
        """200 when the version can answer (it is loaded on demand), else 503 or 404."""
        return await model_ready(model, version)

    @router.get("/models/{model}/stats")
    async def model_statistics(model: str) -> dict[str, Any]:
        """Triton statistics of every version answered so far, and load and cache counters."""
        return await statistics(model, None)

    @router.get("/models/{model}/versions/{version}/stats")
    async def version_statistics(model: str, version: str) -> dict[str, Any]:
        """Triton statistics of one version."""
        return await statistics(model, version)

    @router.post("/models/{model}/infer", openapi_extra=INFER_BODY, response_model=None)
    async def infer_model(request: Request, model: str) -> Response:
        """Infer with the production version (or the canary, by the routing key's bucket)."""
        return await infer(request, model, None)

    @router.post("/models/{model}/versions/{version}/infer", openapi_extra=INFER_BODY,
                 response_model=None)
    async def infer_version(request: Request, model: str, version: str) -> Response:
        """Infer with one version."""
        return await infer(request, model, version)

    return router


def infer_request_schemas() -> dict[str, Any]:
    """OpenAPI component schemas of :class:`InferRequest` and the models it uses."""
    schema = InferRequest.model_json_schema(ref_template="#/components/schemas/{model}")
    nested = schema.pop("$defs", {})
    return {**nested, "InferRequest": schema}


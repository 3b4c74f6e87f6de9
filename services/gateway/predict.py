"""The simple route for curl users: ``POST /v1/models/{m}:predict`` with ``{"instances": [...]}``.

Instances are strings (text models) or ``{"b64": "<base64 of an encoded image>"}`` (image models).
A classification model answers each instance with its top label and every label's score; an
embedding model with its vector.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

import numpy as np
from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse

from services.errors import InvalidInputError
from services.gateway.inference import Gateway
from services.gateway.middleware import MODEL_VERSION
from services.host.messages import HostResponse
from services.protocol.codec import Tensor
from services.protocol.datatypes import BYTES
from services.validation import summary

PREDICT_BODY = {"requestBody": {"required": True, "content": {"application/json": {
    "schema": {"$ref": "#/components/schemas/PredictRequest"}}}}}
"""The OpenAPI request body of predict (read by hand: curl's default content type is accepted)."""


class Base64Image(BaseModel):
    """An encoded image (PNG, JPEG ...) as base64 text."""

    model_config = ConfigDict(extra="forbid")

    b64: str = Field(min_length=1)


class PredictRequest(BaseModel):
    """The body of ``:predict``."""

    model_config = ConfigDict(extra="forbid")

    instances: list[str | Base64Image] = Field(min_length=1)
    """Texts, or ``{"b64": ...}`` images; all of one kind."""


def predict_request_schemas() -> dict[str, Any]:
    """OpenAPI component schemas of :class:`PredictRequest` and the models it uses."""
    schema = PredictRequest.model_json_schema(ref_template="#/components/schemas/{model}")
    return {**schema.pop("$defs", {}), "PredictRequest": schema}


def parse_predict(body: bytes) -> PredictRequest:
    """The predict body, whatever its content type (``curl -d`` sends a form type).

    Raises:
        InvalidInputError: Not JSON, or not a valid :class:`PredictRequest`.
    """
    try:
        return PredictRequest.model_validate(json.loads(body))
    except (ValueError, RecursionError) as exc:
        if isinstance(exc, ValidationError):
            raise InvalidInputError(f"invalid request: {summary(exc.errors())}") from exc
        raise InvalidInputError(f"the request body is not valid JSON: {exc}") from exc


def _raw_input(instances: list[str | Base64Image]) -> Tensor:
    texts = [i for i in instances if isinstance(i, str)]
    if texts and len(texts) != len(instances):
        raise InvalidInputError("instances mix strings and {'b64': ...} images; send one kind")
    if texts:
        name, items = "text", [t.encode("utf-8", errors="surrogatepass") for t in texts]
    else:
        name, items = "image", []
        for position, image in enumerate(instances):
            try:
                items.append(base64.b64decode(image.b64, validate=True))  # type: ignore[union-attr]
            except (binascii.Error, ValueError) as exc:
                raise InvalidInputError(f"instance {position}: 'b64' is not base64 ({exc})") from exc
    array = np.empty(len(items), dtype=object)
    array[:] = items
    return Tensor(name, BYTES, (len(items),), array, from_json=False)


def predictions(answer: HostResponse) -> list[Any]:
    """Labels with scores (classification) or vectors (embedding), one per instance."""
    if answer.task == "classification":
        name = "probabilities" if "probabilities" in answer.outputs else next(iter(answer.outputs))
        rows = answer.outputs[name]
        return [{"label": answer.labels[int(np.argmax(row))] if answer.labels else int(np.argmax(row)),
                 "scores": ({label: float(s) for label, s in zip(answer.labels, row)}
                            if answer.labels else [float(s) for s in row])} for row in rows]
    return [row.tolist() for row in next(iter(answer.outputs.values()))]


def predict_router(gateway: Gateway) -> APIRouter:
    """The ``/v1`` predict route over ``gateway``."""
    router = APIRouter(prefix="/v1", tags=["Simple predict"])

    @router.post("/models/{model}:predict", openapi_extra=PREDICT_BODY)
    async def predict(request: Request, model: str) -> JSONResponse:
        """Predict with the production version (or the canary, by the routing key)."""
        gateway.fleet.host(model)  # 404 before reading the body
        body = parse_predict(await request.body())  # the host refuses more than max_items
        answer = await gateway.infer(request, model, None, (_raw_input(body.instances),), None,
                                     None, None)
        return JSONResponse({"model_name": model, "model_version": str(answer.version),
                             "predictions": predictions(answer)},
                            headers={MODEL_VERSION: str(answer.version)})

    return router

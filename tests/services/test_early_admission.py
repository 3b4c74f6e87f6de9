"""Admission control answers from the path: an overloaded model's inference request is 429 before
a byte of its body is read, on every inference route, and is counted under its model and route."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from services.gateway.middleware import INFERENCE_ROUTES, InferenceRoute, inference_route
from tests.reliability.asgi import routes
from tests.services.gateways import blocking_app
from tests.services.test_metrics import PIXELS, scrape, value

INFERENCE_PATHS = {
    "/v2/models/slow/infer": "/v2/models/{model}/infer",
    "/v2/models/slow/versions/1/infer": "/v2/models/{model}/versions/{version}/infer",
    "/v1/models/slow:predict": "/v1/models/{model}:predict",
}


def test_the_inference_routes_are_the_apps() -> None:
    app, _ = blocking_app()
    posted = {path for method, path in routes(app) if method == "POST"}
    assert {path for path in posted if path.endswith(("/infer", ":predict"))} == set(
        INFERENCE_ROUTES)


def test_inference_paths_name_their_model_and_route() -> None:
    assert inference_route("/v2/models/m-1.a/infer") == InferenceRoute(
        "m-1.a", "/v2/models/{model}/infer")
    assert inference_route("/v2/models/m/versions/7/infer") == InferenceRoute(
        "m", "/v2/models/{model}/versions/{version}/infer")
    assert inference_route("/v1/models/m:predict") == InferenceRoute(
        "m", "/v1/models/{model}:predict")
    for path in ("/v2/models/m", "/v2/models/m/ready", "/v2/models//infer", "/v2/models/a/b/infer",
                 "/v2/models/m/infer/", "/v1/models/m:explain", "/admin/models/m/infer"):
        assert inference_route(path) is None, path


async def _call_without_body(app: Any, path: str) -> tuple[int, dict[bytes, bytes], bytes]:
    """One ASGI request whose body must never be read (the test fails if it is)."""
    sent: list[dict] = []

    async def receive() -> dict:
        raise AssertionError(f"the body of {path} was read")

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
             "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
             "root_path": "", "server": ("gateway", 80), "client": ("127.0.0.1", 1),
             "headers": [(b"host", b"gateway"), (b"content-type", b"application/json"),
                         (b"content-length", b"1000000")]}
    await app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], dict(start["headers"]), body


@pytest.mark.timeout(60)
def test_an_overloaded_model_is_refused_before_its_body_is_read() -> None:
    app, host = blocking_app(max_in_flight=1, retry_after_s=2)
    with TestClient(app) as client:
        before = scrape(client)

        async def scenario() -> list[tuple[int, dict[bytes, bytes], bytes]]:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
                first = asyncio.ensure_future(http.post("/v2/models/slow/infer", json=PIXELS))
                await host.started.wait()
                answers = [await _call_without_body(app, path) for path in INFERENCE_PATHS]
                host.release.set()
                assert (await first).status_code == 200
            return answers

        answers = client.portal.call(scenario)
        after = scrape(client)
    for (status, headers, body), path in zip(answers, INFERENCE_PATHS):
        assert status == 429, (path, body)
        assert headers[b"retry-after"] == b"2"
        assert "in flight" in json.loads(body)["error"]
    for route in INFERENCE_PATHS.values():
        counted = (value(after, "zhijian_requests_total", model="slow", route=route, code="429")
                   - value(before, "zhijian_requests_total", model="slow", route=route, code="429"))
        assert counted == 1, route
    rejected = (value(after, "zhijian_admission_rejections_total", model="slow")
                - value(before, "zhijian_admission_rejections_total", model="slow"))
    assert rejected == 3


@pytest.mark.timeout(60)
def test_unknown_models_and_free_models_still_reach_their_routes() -> None:
    app, host = blocking_app(max_in_flight=1)
    host.release.set()
    with TestClient(app) as client:
        assert client.post("/v2/models/nope/infer", json=PIXELS).status_code == 404
        assert client.post("/v2/models/slow/infer", json=PIXELS).status_code == 200
        assert client.post("/v2/models/slow/infer", content=b"{").status_code == 400

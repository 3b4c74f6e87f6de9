"""Every error the gateway gives: JSON {"error"}, a status from the one table, never a 500."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from typing import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.host import HostConfig
from tests.services.bundles import png_bytes
from tests.services.gateways import ERROR_ANSWERS, TOKEN
from tests.services.gateways import blocking_app, build_app

IMAGE = {"name": "image", "shape": [1], "datatype": "BYTES",
         "data": [base64.b64encode(png_bytes()).decode()]}


@pytest.fixture
def client(versions: dict) -> Iterator[TestClient]:
    app = build_app(versions, {"images": {"production": 1}, "texts": {"production": 1}},
                    max_body_bytes=20_000, host_config=HostConfig(max_items=4))
    with TestClient(app) as client:
        yield client


def error(response: httpx.Response, status: int, fragment: str = "") -> str:
    assert response.status_code == status, response.text
    message = response.json()["error"]
    assert fragment.lower() in message.lower(), message
    return message


@pytest.mark.parametrize("body, fragment", [
    (b"{", "not valid JSON"),
    (b'{"inputs": [{"name": "tokens", "shape": [1], "datatype": "BYTES", "data": ["x"]}]}',
     "not an input set"),
    (b'{"inputs": [{"name": "pixel_values", "shape": [1, 3, 8, 8], "datatype": "FP64",'
     b' "data": ' + json.dumps([0.0] * 192).encode() + b'}]}', "must be FP32"),
    (b'{"inputs": [{"name": "pixel_values", "shape": [1, 3, 8, 7], "datatype": "FP32",'
     b' "data": ' + json.dumps([0.0] * 168).encode() + b'}]}', "shape"),
    (b'{"inputs": [{"name": "image", "shape": [1], "datatype": "BYTES", "data": ["aGVsbG8="]}]}',
     "cannot be decoded"),
    (b'{"inputs": [{"name": "image", "shape": [0], "datatype": "BYTES", "data": []}]}', "no items"),
    (b'{"inputs": []}', "inputs"),
    (b'{"inputs": [{"name": "image", "shape": [5], "datatype": "BYTES",'
     b' "data": ["a", "a", "a", "a", "a"]}]}', "more than the 4"),
    (b'{"inputs": [{"name": "image", "shape": [1], "datatype": "BYTES", "data": ["@@"]}]}',
     "base64"),
    (b'{"inputs": [' + json.dumps(IMAGE).encode() + b'], "outputs": [{"name": "nope"}]}',
     "unknown or repeated"),
])
def test_bad_inference_input_is_400(client: TestClient, body: bytes, fragment: str) -> None:
    error(client.post("/v2/models/images/infer", content=body), 400, fragment)


def test_bad_text_and_predict_input_is_400(client: TestClient) -> None:
    header = json.dumps({"inputs": [{"name": "text", "shape": [1], "datatype": "BYTES",
                                     "parameters": {"binary_data_size": 6}}]}).encode()
    error(client.post("/v2/models/texts/infer", content=header + b"\x02\x00\x00\x00\xff\xfe",
                      headers={"Inference-Header-Content-Length": str(len(header))}), 400, "UTF-8")
    error(client.post("/v1/models/images:predict", json={"instances": ["text", {"b64": "aGk="}]}),
          400, "mix")
    error(client.post("/v1/models/images:predict", json={"instances": []}), 400, "instances")
    error(client.post("/v1/models/texts:predict", json={"instances": ["a"] * 5}), 400,
          "more than the 4")
    error(client.post("/v1/models/images:predict", json={"instance": ["x"]}), 400, "instances")
    error(client.post("/v1/models/images:predict", content=b"{"), 400, "not valid JSON")
    error(client.post("/v1/models/texts:predict", json={"instances": [{"b64": "aGk="}]}), 400,
          "not an input set")


@pytest.mark.parametrize("path", [
    "/v2/models/unknown/infer", "/v2/models/images/versions/9/infer",
    "/v2/models/images/versions/0/infer", "/v2/models/images/versions/latest/infer",
    "/v2/models/%2e%2e/infer", "/v2/models/..%2f..%2fetc/infer", "/v2/models/IMAGES/infer",
    "/v1/models/%2E%2E:predict", "/v2/nothing-here", "/v2/models/images/versions/9/stats",
])
def test_unknown_models_versions_and_routes_are_404(client: TestClient, path: str) -> None:
    body = {"inputs": [IMAGE]} if "infer" in path else {"instances": ["x"]}
    response = client.post(path, json=body) if "infer" in path or "predict" in path else client.get(path)
    error(response, 404)


def test_unknown_model_metadata_and_readiness_are_404(client: TestClient) -> None:
    error(client.get("/v2/models/nope"), 404, "not served")
    error(client.get("/v2/models/images/versions/12"), 404, "no version 12")
    error(client.get("/v2/models/nope/ready"), 404)
    error(client.get("/v2/models/images/versions/12/ready"), 404, "no version 12")


def test_huge_declared_shapes_are_400_without_allocating(client: TestClient) -> None:
    for datatype, size in (("BYTES", 5), ("FP32", 4)):
        header = json.dumps({"inputs": [{"name": "image", "shape": [10**15, 10**15],
                                         "datatype": datatype,
                                         "parameters": {"binary_data_size": size}}]}).encode()
        error(client.post("/v2/models/images/infer", content=header + b"\x01\x00\x00\x00x"[:size],
                          headers={"Inference-Header-Content-Length": str(len(header))}), 400)


def test_wrong_method_is_405_and_load_unload_501(client: TestClient) -> None:
    error(client.get("/v2/models/images/infer"), 405, "not allowed")
    error(client.post("/v2/repository/models/images/load"), 501, "not implemented")
    error(client.post("/v2/repository/models/images/unload"), 501, "not implemented")


def test_body_over_the_limit_is_413_before_reading(client: TestClient, versions: dict) -> None:
    error(client.post("/v2/models/images/infer", content=b"x" * 20_001), 413, "more than")
    app = build_app(versions, {"images": {"production": 1}}, max_body_bytes=100)
    sent: list[dict] = []

    async def receive() -> dict:
        raise AssertionError("the body was read")

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/v2/models/images/infer", "raw_path": b"",
             "query_string": b"", "headers": [(b"content-length", b"1000000000")],
             "http_version": "1.1", "scheme": "http", "server": ("t", 80), "client": ("c", 1),
             "root_path": ""}
    asyncio.run(app(scope, receive, send))
    assert sent[0]["status"] == 413 and json.loads(sent[1]["body"])["error"]


def test_chunked_body_over_the_limit_is_413(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(30):
            yield b"x" * 1000

    error(client.post("/v2/models/images/infer", content=chunks()), 413)


def test_admin_needs_a_valid_token_before_routing(client: TestClient) -> None:
    error(client.post("/admin/reload"), 401, "Bearer")
    error(client.get("/admin/no/such/path"), 401)
    error(client.get("/admin"), 401)
    error(client.post("/admin/reload", headers={"Authorization": "Bearer wrong"}), 403)
    error(client.post("/admin/reload", headers={"Authorization": f"Basic {TOKEN}"}), 401)
    ok = client.post("/admin/reload", headers={"Authorization": f"Bearer {TOKEN}"})
    assert ok.status_code == 200 and ok.json()["serving"]["images"] == {"production": 1}
    error(client.get("/admin/no/such/path", headers={"Authorization": f"Bearer {TOKEN}"}), 404)


def test_not_ready_is_503_with_retry_after(versions: dict) -> None:
    app = build_app(versions, {"images": {"production": 1}}, host_config=HostConfig(device="cuda"))
    with TestClient(app) as client:
        response = client.get("/v2/models/images/ready")
        error(response, 503, "configured for CUDA")
        assert response.headers["Retry-After"] == "1"
        error(client.get("/v2/health/ready"), 503, "not ready")
        error(client.post("/v2/models/images/infer", json={"inputs": [IMAGE]}), 503, "CUDA")
        assert client.post("/v2/repository/index").json()[0]["state"] == "UNAVAILABLE"


def test_admission_control_429_and_deadline_504() -> None:
    app, host = blocking_app(max_in_flight=1, retry_after_s=3, deadline_s=5.0)
    body = {"inputs": [IMAGE]}

    async def main() -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            first = asyncio.ensure_future(client.post("/v2/models/slow/infer", json=body))
            await host.started.wait()
            refused = await client.post("/v2/models/slow/infer", json=body)
            error(refused, 429, "in flight")
            assert refused.headers["Retry-After"] == "3"
            host.release.set()
            assert (await first).status_code == 200
            host.release.clear()
            late = await client.post("/v2/models/slow/infer",
                                     json={**body, "parameters": {"timeout": 20_000}})
            error(late, 504, "within 0.02 s")

    asyncio.run(main())


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(
    st.binary(max_size=300),
    st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
                 lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
                     st.sampled_from(["inputs", "name", "shape", "datatype", "data", "parameters",
                                      "outputs", "id", "binary_data_size", "timeout"]), inner,
                     max_size=4), max_leaves=20).map(lambda v: json.dumps(v).encode())))
def test_no_input_gives_a_500(client: TestClient, body: bytes) -> None:
    for path in ("/v2/models/images/infer", "/v2/models/texts/infer", "/v1/models/texts:predict"):
        response = client.post(path, content=body)
        assert response.status_code in (200, 400), (response.status_code, response.text)


def test_one_json_log_line_per_request_and_no_token(client: TestClient,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="zhijian.access"):
        client.post("/v2/models/images/infer", json={"inputs": [IMAGE]},
                    headers={"X-Request-Id": "log-1"})
        client.post("/admin/reload", headers={"Authorization": f"Bearer {TOKEN}"})
        client.post("/admin/reload", headers={"Authorization": f"Bearer {TOKEN}x"})
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "zhijian.access"]
    assert len(lines) == 3
    first = lines[0]
    assert first["request_id"] == "log-1" and first["model"] == "images" and first["version"] == "1"
    assert first["route"] == "/v2/models/{model}/infer" and first["status"] == 200
    assert first["batch_size"] == 1 and first["latency_ms"] > 0
    assert [line["status"] for line in lines[1:]] == [200, 403]
    assert TOKEN not in caplog.text


def test_the_suite_saw_every_error_status_of_the_table() -> None:
    """Runs after the tests above in this module: their error answers cover the table's statuses."""
    if not ERROR_ANSWERS:
        pytest.skip("checks the answers of the other tests of this module; run them too")
    seen = {status for _, status, _ in ERROR_ANSWERS}
    assert {400, 401, 403, 404, 405, 413, 429, 501, 503, 504} <= seen, seen


def test_a_trailing_slash_is_a_json_404_not_a_redirect(versions: dict) -> None:
    from fastapi.testclient import TestClient

    from tests.services.gateways import build_app

    with TestClient(build_app(versions, {"images": {"production": 1}})) as client:
        answer = client.get("/v2/health/live/", follow_redirects=False)
        assert answer.status_code == 404 and "error" in answer.json()

"""The same hostile requests through the in-process gateway (HTTP, hosts running the tiny ONNX
bundles): every answer is a 200 or a 400 with a JSON ``{"error": ...}`` body, never a 500, and the
hosts still answer afterwards. Sizes and item counts are limited before anything is read."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from pathlib import Path
from typing import Iterator

import pytest
from fastapi.testclient import TestClient
from hypothesis import strategies as st

from services.host import HostConfig
from tests.reliability.fuzzing import FAST_EXAMPLES, SOAK_EXAMPLES, fuzz
from tests.reliability.strategies import (Body, any_infer_bodies, encoded_image, image_files,
                                          png_claiming, predict_bodies)
from tests.services.bundles import png_bytes
from tests.services.gateways import build_app

MAX_ITEMS = 8
MAX_BODY = 1 << 20
MODELS = st.sampled_from(["images", "texts"])
PNG = base64.b64encode(png_bytes()).decode()


@pytest.fixture(scope="module")
def client(reliability_bundles: dict[str, dict[int, Path]]) -> Iterator[TestClient]:
    app = build_app(reliability_bundles, {name: {"production": 1} for name in reliability_bundles},
                    max_body_bytes=MAX_BODY, host_config=HostConfig(max_items=MAX_ITEMS))
    with TestClient(app) as client:
        yield client


def post(client: TestClient, path: str, body: Body) -> str:
    """Post ``body``; the answer must be 200, or 400 with a JSON error (the recorder checks it), or
    504 when the request itself asked for a deadline (``parameters.timeout``, microseconds)."""
    response = client.post(path, content=body.content, headers=body.headers())
    allowed = (200, 400, 504) if b'"timeout"' in body.content else (200, 400)
    assert response.status_code in allowed, (path, body, response.status_code, response.text[:300])
    if response.status_code == 200:
        assert response.headers["X-Zhijian-Model-Version"] == "1"
    else:
        assert response.json()["error"]
    return str(response.status_code)


def still_serving(client: TestClient) -> None:
    """No host was lost: readiness and a valid inference on each model."""
    assert client.get("/v2/health/ready").status_code == 200
    image = {"inputs": [{"name": "image", "shape": [1], "datatype": "BYTES", "data": [PNG]}]}
    assert client.post("/v2/models/images/infer", json=image).status_code == 200
    assert client.post("/v1/models/texts:predict", json={"instances": ["good"]}).status_code == 200


def image_request(model: str, kind: str, files: list[bytes]) -> tuple[str, Body]:
    """``files`` to ``model`` by one route: OIP JSON (base64), OIP binary, or predict (base64)."""
    if kind == "predict":
        instances = [{"b64": base64.b64encode(f).decode()} for f in files]
        return f"/v1/models/{model}:predict", Body(json.dumps({"instances": instances}).encode())
    document: dict = {"name": "image", "shape": [len(files)], "datatype": "BYTES"}
    if kind == "json":
        document["data"] = [base64.b64encode(f).decode() for f in files]
        return f"/v2/models/{model}/infer", Body(json.dumps({"inputs": [document]}).encode())
    chunk = b"".join(len(f).to_bytes(4, "little") + f for f in files)
    document["parameters"] = {"binary_data_size": len(chunk)}
    header = json.dumps({"inputs": [document]}).encode()
    return f"/v2/models/{model}/infer", Body(header + chunk, str(len(header)))


def image_requests() -> st.SearchStrategy[tuple[str, Body]]:
    """Image files through the three routes, to the 8-pixel model and to the one resizing to 256."""
    return st.builds(image_request, st.sampled_from(["images", "photos"]),
                     st.sampled_from(["json", "binary", "predict"]),
                     st.lists(image_files(), min_size=1, max_size=3))


def run_kinds(client: TestClient, examples: int) -> dict[str, int]:
    counts = {}
    oip = fuzz("OIP v2 infer (JSON and binary)", st.tuples(MODELS, any_infer_bodies),
               lambda pair: post(client, f"/v2/models/{pair[0]}/infer", pair[1]), examples)
    predict = fuzz("/v1 predict", st.tuples(MODELS, predict_bodies()),
                   lambda pair: post(client, f"/v1/models/{pair[0]}:predict", pair[1]), examples)
    images = fuzz("images on the three routes", image_requests(),
                  lambda pair: post(client, *pair), examples)
    for name, outcomes in (("oip", oip), ("predict", predict), ("images", images)):
        counts[name] = sum(outcomes.values())
        assert set(outcomes) <= {"200", "400", "504"}
    assert oip["200"] and predict["200"] and images["200"], (oip, predict, images)
    still_serving(client)
    return counts


@pytest.mark.timeout(300)
def test_hostile_requests_get_200_or_a_json_400(client: TestClient) -> None:
    counts = run_kinds(client, FAST_EXAMPLES)
    assert min(counts.values()) >= FAST_EXAMPLES * 0.9, counts


@pytest.mark.soak
@pytest.mark.timeout(3600)
def test_hostile_requests_get_200_or_a_json_400_soak(client: TestClient) -> None:
    counts = run_kinds(client, SOAK_EXAMPLES)
    assert min(counts.values()) >= SOAK_EXAMPLES, counts


@pytest.mark.parametrize("kind", ["json", "binary", "predict"])
@pytest.mark.parametrize("size", [(20_000, 1), (1, 400_000), (2**31 - 1, 2**31 - 1), (6_000, 5_000)])
def test_enormous_images_are_400_at_once(client: TestClient, kind: str, size: tuple[int, int]) -> None:
    """A 20000 x 1 PNG of 99 bytes cost the photo model's resize 5 GB and 8 s; now it is refused
    from its header, as are headers claiming more pixels than accepted."""
    data = encoded_image(*size) if size[0] * size[1] < 10**6 else png_claiming(*size)
    start = time.perf_counter()
    path, body = image_request("photos", kind, [data])
    answer = client.post(path, content=body.content, headers=body.headers())
    assert answer.status_code == 400 and "pixels" in answer.json()["error"], answer.text
    assert time.perf_counter() - start < 1.0


# ---- limits ------------------------------------------------------------------------------------
def _scope(headers: list[tuple[bytes, bytes]]) -> dict:
    return {"type": "http", "method": "POST", "path": "/v2/models/images/infer", "raw_path": b"",
            "query_string": b"", "headers": headers, "http_version": "1.1", "scheme": "http",
            "server": ("t", 80), "client": ("c", 1), "root_path": ""}


@pytest.mark.parametrize("length, status", [
    (b"1073741824", 413), (b"1000000000000", 413), (b"9" * 30, 413), (b"9" * 5000, 413),
    (b"\xb2", 400), (b"-1", 400), (b"12 34", 400)])
def test_a_claimed_body_size_is_judged_before_a_byte_is_read(reliability_bundles: dict,
                                                             length: bytes, status: int) -> None:
    """Content-Length claiming gigabytes is 413 at once; "²" and 5000 digits were 500 before."""
    app = build_app(reliability_bundles, {"images": {"production": 1}}, max_body_bytes=MAX_BODY)
    sent: list[dict] = []

    async def receive() -> dict:
        raise AssertionError("the body was read")

    async def send(message: dict) -> None:
        sent.append(message)

    asyncio.run(app(_scope([(b"content-length", length)]), receive, send))
    assert sent[0]["status"] == status and json.loads(sent[1]["body"])["error"]


def test_a_body_streamed_past_the_limit_is_413(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(MAX_BODY // 65536 + 2):
            yield b" " * 65536

    assert client.post("/v2/models/images/infer", content=chunks()).status_code == 413
    assert client.post("/v1/models/texts:predict", content=chunks()).status_code == 413
    at_limit = b'{"instances": ["good"]}'.ljust(MAX_BODY)
    assert client.post("/v1/models/texts:predict", content=at_limit).status_code == 200


@pytest.mark.parametrize("path, body", [
    ("/v2/models/texts/infer", lambda n: {"inputs": [{"name": "text", "shape": [n],
                                                      "datatype": "BYTES", "data": ["good"] * n}]}),
    ("/v2/models/images/infer", lambda n: {"inputs": [{"name": "image", "shape": [n],
                                                       "datatype": "BYTES", "data": [PNG] * n}]}),
    ("/v2/models/images/infer", lambda n: {"inputs": [{"name": "pixel_values", "shape": [n, 3, 8, 8],
                                                       "datatype": "FP32", "data": [0.5] * n * 192}]}),
    ("/v1/models/texts:predict", lambda n: {"instances": ["good"] * n}),
    ("/v1/models/images:predict", lambda n: {"instances": [{"b64": PNG}] * n}),
])
def test_item_counts_are_limited_on_every_route(client: TestClient, path: str, body) -> None:
    assert client.post(path, json=body(MAX_ITEMS)).status_code == 200
    refused = client.post(path, json=body(MAX_ITEMS + 1))
    assert refused.status_code == 400 and f"more than the {MAX_ITEMS}" in refused.json()["error"]


@pytest.mark.parametrize("document, fragment", [
    ({"inputs": [{"name": f"t{i}", "shape": [1], "datatype": "FP32", "data": [1]} for i in range(17)]},
     "inputs"),
    ({"inputs": [{"name": "x", "shape": [1] * 9, "datatype": "FP32", "data": [1]}]}, "shape"),
    ({"id": "x" * 257, "inputs": [{"name": "text", "shape": [1], "datatype": "BYTES",
                                   "data": ["a"]}]}, "id"),
    ({"inputs": [{"name": "text", "shape": [1], "datatype": "BYTES", "data": ["a"]}],
      "outputs": [{"name": "embedding"}] * 17}, "outputs"),
])
def test_document_limits_are_400(client: TestClient, document: dict, fragment: str) -> None:
    refused = client.post("/v2/models/texts/infer", json=document)
    assert refused.status_code == 400 and fragment in refused.json()["error"]

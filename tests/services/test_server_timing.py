"""The Server-Timing header (GatewayConfig.server_timing): off by default; on, each inference
answer carries the gateway's, the host call's and the host's stage times, consistent with one
another; never on errors or other routes."""

from __future__ import annotations

import base64
from typing import Iterator

import pytest
from fastapi.testclient import TestClient

from services.gateway.middleware import server_timing
from tests.services.bundles import png_bytes
from tests.services.gateways import build_app, server_timing_stages

IMAGE = {"name": "image", "shape": [1], "datatype": "BYTES",
         "data": [base64.b64encode(png_bytes()).decode()]}
ALIASES = {"images": {"production": 1}, "texts": {"production": 1}}


@pytest.fixture
def client(versions: dict) -> Iterator[TestClient]:
    with TestClient(build_app(versions, ALIASES, server_timing=True)) as client:
        yield client


def test_the_header_value_format() -> None:
    assert server_timing([("gateway", 1.23456), ("host", 0.5)]) == "gateway;dur=1.235, host;dur=0.500"


@pytest.mark.parametrize(("path", "body"), [
    ("/v2/models/images/infer", {"inputs": [IMAGE]}),
    ("/v1/models/texts:predict", {"instances": ["a tweet", "another"]}),
])
def test_each_inference_names_its_stages(client: TestClient, path: str, body: dict) -> None:
    answer = client.post(path, json=body)
    assert answer.status_code == 200, answer.text
    timing = server_timing_stages(answer.headers["server-timing"])
    # In one process the host has no batcher, so no queue stage (under Ray Serve it has one).
    assert list(timing) == ["gateway", "host", "input", "infer", "output"]
    assert all(ms >= 0 for ms in timing.values()) and timing["infer"] > 0
    # Each stage lies within the one around it.
    assert timing["gateway"] >= timing["host"]
    assert timing["host"] >= timing["input"] + timing["infer"] + timing["output"]


def test_no_header_on_errors_or_other_routes(client: TestClient) -> None:
    refused = client.post("/v1/models/texts:predict", json={"instances": []})
    assert refused.status_code == 400 and "server-timing" not in refused.headers
    assert "server-timing" not in client.get("/v2/models/texts").headers
    assert "server-timing" not in client.get("/v2/health/ready").headers


def test_off_by_default(versions: dict) -> None:
    with TestClient(build_app(versions, ALIASES)) as client:
        answer = client.post("/v1/models/texts:predict", json={"instances": ["a tweet"]})
    assert answer.status_code == 200 and "server-timing" not in answer.headers

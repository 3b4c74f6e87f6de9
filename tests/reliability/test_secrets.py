"""No secret in logs or answers: the admin token, the API key, and a wrong credential a client
sent (often a mistyped real one) appear in no log record and no response, through refused admin
calls, refused and bad inference requests, and a request that fails inside the service (500)."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from fastapi.testclient import TestClient

from services.gateway import Fleet, GatewayConfig, create_app
from services.host import HostRequest, HostResponse, Readiness
from services.protocol.models import ModelMetadata
from tests.services.gateways import TOKEN, Recorder

API_KEY = "secret-api-key-0123456789abcdef"
WRONG = "almost-the-token-0123456789abcdef"
SECRETS = (TOKEN, API_KEY, WRONG)
CLIENT_LOGGERS = {"httpx", "httpx2", "httpcore", "httpcore2"}
"""The test's own HTTP client logs the URLs it requests (the token in a query string too)."""
TEXT = {"inputs": [{"name": "text", "shape": [1], "datatype": "BYTES", "data": ["good"]}]}


class FailingHost:
    """A host whose inference fails with an unexpected error (the 500 path, which logs a
    traceback)."""

    async def infer(self, request: HostRequest) -> HostResponse:
        raise RuntimeError("the model runtime crashed")

    async def readiness(self, version: int | None = None) -> Readiness:
        return Readiness(True, "", {"production": 1})

    async def metadata(self, version: int | None = None) -> ModelMetadata:
        raise RuntimeError("no metadata")

    async def statistics(self, version: int | None = None) -> dict[str, Any]:
        return {"model_stats": [], "host": {}}

    async def sync(self) -> dict[str, int]:
        return {"production": 1}


def test_no_secret_reaches_a_log_or_an_answer(caplog: pytest.LogCaptureFixture) -> None:
    config = GatewayConfig(admin_token=TOKEN, api_key=API_KEY, poll_interval_s=0)
    app = Recorder(create_app(config, Fleet({"broken": FailingHost()}, lambda name: None)))
    key, token = {"Authorization": f"Bearer {API_KEY}"}, {"Authorization": f"Bearer {TOKEN}"}
    calls = [
        ("POST", "/admin/reload", {}, None, 401),
        ("POST", "/admin/reload", {"Authorization": f"Bearer {WRONG}"}, None, 403),
        ("POST", "/admin/reload", key, None, 403),
        ("GET", f"/admin/models?token={TOKEN}", {}, None, 401),
        ("POST", "/admin/reload", token, None, 200),
        ("POST", "/v2/models/broken/infer", {}, TEXT, 401),
        ("POST", "/v2/models/broken/infer", {"Authorization": f"Bearer {WRONG}"}, TEXT, 403),
        ("POST", "/v2/models/broken/infer", token, TEXT, 403),
        ("POST", "/v2/models/broken/infer", key, {"inputs": API_KEY}, 400),
        ("POST", "/v2/models/broken/infer", key, TEXT, 500),
        ("GET", "/v2/models/broken", key, None, 500),
    ]
    caplog.set_level(logging.DEBUG)
    with TestClient(app, raise_server_exceptions=False) as client:
        for method, path, headers, body, status in calls:
            answer = client.request(method, path, headers=headers, json=body)
            assert answer.status_code == status, (path, headers, answer.text)
            shown = answer.text + " ".join(f"{k}: {v}" for k, v in answer.headers.items())
            for secret in SECRETS:
                if secret in str(body):
                    continue  # a client's own input may come back to that client
                assert secret not in shown, (path, secret, shown)
    assert any(r.levelno >= logging.ERROR for r in caplog.records)  # the 500s were logged
    service = [r for r in caplog.records if r.name.split(".")[0] not in CLIENT_LOGGERS]
    assert any(r.name == "zhijian.access" for r in service)
    for record in service:
        text = f"{record.getMessage()} {record.args} {record.__dict__} {record.exc_text or ''}"
        for secret in SECRETS:
            assert secret not in text, (secret, record.getMessage())


def test_a_500_answer_shows_no_internals() -> None:
    config = GatewayConfig(admin_token=TOKEN, poll_interval_s=0)
    app = Recorder(create_app(config, Fleet({"broken": FailingHost()}, lambda name: None)))
    with TestClient(app, raise_server_exceptions=False) as client:
        answer = client.post("/v2/models/broken/infer", json=TEXT)
    assert answer.status_code == 500
    assert "crashed" not in answer.text and "Traceback" not in answer.text
    assert "X-Request-Id" in answer.json()["error"]

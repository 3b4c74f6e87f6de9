"""Authentication, route by route, with the routes read from the app (none listed by hand): every
admin path refuses a missing (401) or wrong (403) token, and cannot be reached around the check;
with an API key configured, every data-plane route refuses a missing (401) or wrong (403) key while
health, ``/metrics`` and the OpenAPI document stay open."""

from __future__ import annotations

import hmac
from pathlib import Path
from typing import Any

import pydantic
import pytest

from services.gateway import GatewayConfig
from services.gateway.config import API_KEY_ENV
from services.gateway.middleware import needs_api_key
from services.serve.config import ServeArgs
from tests.reliability.asgi import call, concrete, error_of, routes
from tests.services.gateways import TOKEN, build_app

API_KEY = "test-api-key-fedcba9876543210"
ALIASES = {"images": {"production": 1}, "texts": {"production": 1},
           "photos": {"production": 1}}
OPEN_PATHS = ["/v2/health/live", "/v2/health/ready", "/metrics", "/openapi.json"]


@pytest.fixture(scope="module")
def app(reliability_bundles: dict[str, dict[int, Path]], registry: Any) -> Any:
    """A gateway with the admin API over a real registry and an API key on the data plane."""
    return build_app(reliability_bundles, ALIASES, registry=registry, api_key=API_KEY)


def _bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


REFUSALS = [
    ({}, 401), ({"Authorization": "Bearer "}, 401), ({"Authorization": f"Basic {TOKEN}"}, 401),
    ({"Authorization": TOKEN}, 401), ({"X-Api-Key": TOKEN}, 401),
    (_bearer("wrong"), 403), (_bearer(TOKEN + "x"), 403), (_bearer(TOKEN[:-1]), 403),
    (_bearer(TOKEN.upper()), 403), (_bearer(API_KEY), 403),
]
"""Credentials that must not open the admin API, and the answer each gets."""


def test_every_admin_route_refuses_a_missing_or_wrong_token(app: Any) -> None:
    admin = [(m, p) for m, p in routes(app) if p.startswith("/admin")]
    assert len(admin) >= 6, admin  # list, show, promote, rollback, canary, reload
    for method, template in admin:
        path = concrete(template)
        for headers, status in REFUSALS:
            got, _, body = call(app, method, path, headers)
            assert got == status, (method, path, headers, got, body)
            assert TOKEN not in body.decode() and "error" in body.decode()
        got, _, body = call(app, method, path, _bearer(TOKEN), b"{}")
        assert got not in (401, 403), (method, path, got, body)  # the route itself answered


@pytest.mark.parametrize("path", [
    "/admin", "/admin/", "/admin/reload/", "/admin/models/images/../../reload", "/admin/./reload",
    "/admin/nothing/here", "/admin%2Freload", "/admin/reload%00"])
def test_admin_paths_without_a_token_are_401_even_when_no_route_matches(app: Any, path: str) -> None:
    status, _, body = call(app, "POST", path)
    assert status == 401 and "Bearer" in error_of(body)


@pytest.mark.parametrize("path", ["//admin/reload", "/ADMIN/reload", "/v2/../admin/reload",
                                  "/Admin/reload", " /admin/reload", "/v1/../admin/reload"])
def test_the_admin_api_cannot_be_reached_around_the_check(app: Any, path: str) -> None:
    """Paths that a lax router might map to an admin route are not routed at all (404) or are
    refused; none reaches the handler."""
    status, _, _ = call(app, "POST", path, {"Authorization": f"Bearer {API_KEY}"})
    assert status in (401, 403, 404), (path, status)


def test_every_data_plane_route_needs_the_api_key(app: Any) -> None:
    data = [(m, p) for m, p in routes(app) if p.startswith(("/v1", "/v2"))
            and not p.startswith("/v2/health/")]
    assert len(data) >= 14, data
    for method, template in data:
        path = concrete(template)
        assert needs_api_key(path), path
        for headers, status in [({}, 401), ({"Authorization": "Basic x"}, 401),
                                (_bearer("wrong-key"), 403), (_bearer(TOKEN), 403),
                                (_bearer(API_KEY[:-1]), 403)]:
            got, _, body = call(app, method, path, headers)
            assert got == status, (method, path, headers, got, body)
            assert API_KEY not in body.decode()
        got, _, body = call(app, method, path, _bearer(API_KEY), b"{}")
        assert got not in (401, 403), (method, path, got, body)
    # unknown data-plane paths are refused before routing: no probing for model names
    assert call(app, "GET", "/v2/models/secret-model-name")[0] == 401
    assert call(app, "GET", "/v2/nothing/here")[0] == 401


@pytest.mark.parametrize("path", OPEN_PATHS)
def test_health_metrics_and_the_schema_stay_open(app: Any, path: str) -> None:
    assert not needs_api_key(path)
    status, _, body = call(app, "GET", path)
    assert status == 200, (path, body[:200])


def test_without_a_configured_key_the_data_plane_is_open(reliability_bundles: dict) -> None:
    open_app = build_app(reliability_bundles, ALIASES)
    for method, template in routes(open_app):
        if template.startswith(("/v1", "/v2")):
            status, _, _ = call(open_app, method, concrete(template), body=b"{}")
            assert status not in (401, 403), (method, template, status)


def test_keys_are_compared_in_constant_time(app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    compared: list[tuple[bytes, bytes]] = []
    original = hmac.compare_digest

    def spy(given: bytes, expected: bytes) -> bool:
        compared.append((given, expected))
        return original(given, expected)

    monkeypatch.setattr("services.gateway.middleware.hmac.compare_digest", spy)
    call(app, "GET", "/v2/models/images", _bearer("a-wrong-key"))
    call(app, "GET", "/admin/models", _bearer("a-wrong-token"))
    assert compared == [(b"a-wrong-key", API_KEY.encode()), (b"a-wrong-token", TOKEN.encode())]


def test_the_api_key_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZHIJIAN_ADMIN_TOKEN", TOKEN)
    monkeypatch.delenv(API_KEY_ENV, raising=False)
    assert GatewayConfig.from_env().api_key is None
    monkeypatch.setenv(API_KEY_ENV, "")
    assert GatewayConfig.from_env().api_key is None
    monkeypatch.setenv(API_KEY_ENV, API_KEY)
    config = GatewayConfig.from_env()
    assert config.api_key is not None and config.api_key.get_secret_value() == API_KEY
    assert API_KEY not in repr(config) and TOKEN not in repr(config)
    monkeypatch.setenv(API_KEY_ENV, "too-short-key")
    with pytest.raises(pydantic.ValidationError) as refused:
        GatewayConfig.from_env()
    assert "too-short-key" not in str(refused.value) and "api_key" in str(refused.value)


@pytest.mark.parametrize("field", ["admin_token", "api_key"])
def test_secrets_never_travel_in_the_serve_config_and_are_not_echoed(field: str) -> None:
    secret = "pasted-by-mistake-0123456789abcdef"
    with pytest.raises(pydantic.ValidationError) as refused:
        ServeArgs(gateway={field: secret})
    assert "never part of the Serve config" in str(refused.value)
    assert secret[-12:] not in str(refused.value)
    with pytest.raises(pydantic.ValidationError) as short:
        GatewayConfig(admin_token="tiny-secret")
    assert "tiny-secret" not in str(short.value)

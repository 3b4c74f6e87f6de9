"""The admin API against a real (embedded MLflow) registry: listing, promotion through the gates,
canary percent, rollback, reload; served models follow at once; the token never reaches the logs."""

from __future__ import annotations

import base64
import logging
from typing import Iterator

import pytest
from fastapi.testclient import TestClient

from services.gateway import Fleet, GatewayConfig, create_app
from services.host import ModelHost, RegistrySource
from services.routing import goes_to_canary
from tests.services.bundles import make_image_bundle, png_bytes
from tests.services.gateways import TOKEN, Recorder

pytestmark = pytest.mark.timeout(300)  # an MLflow store migrates and registers on set-up

AUTH = {"Authorization": f"Bearer {TOKEN}"}
IMAGE = {"inputs": [{"name": "image", "shape": [1], "datatype": "BYTES",
                     "data": [base64.b64encode(png_bytes()).decode()]}]}


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory):
    """One embedded registry with model ``catdog``: v1 (production), v2, v3 (worse quality)."""
    from zhijian_core.registry import Registry, promote

    home = tmp_path_factory.mktemp("admin-home")
    bundles = tmp_path_factory.mktemp("admin-bundles")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ZHIJIAN_HOME", str(home))
        patch.delenv("MLFLOW_TRACKING_URI", raising=False)
        registry = Registry(lock_timeout_s=5.0)
        for version, quality in ((1, 0.9), (2, 0.9), (3, 0.5)):
            bundle = make_image_bundle(bundles / str(version), name="catdog", seed=version,
                                       macro_f1=quality)
            assert registry.register(bundle, "catdog") == version
        promote(registry, "catdog", 1, "production", actor="test")
        yield registry


@pytest.fixture
def client(registry, caplog: pytest.LogCaptureFixture) -> Iterator[TestClient]:
    hosts = {"catdog": ModelHost("catdog", RegistrySource(registry))}
    fleet = Fleet(hosts, registry.canary_percent)
    app = Recorder(create_app(GatewayConfig(admin_token=TOKEN, poll_interval_s=0), fleet, registry))
    caplog.set_level(logging.DEBUG)
    with TestClient(app) as client:
        yield client
    assert TOKEN not in caplog.text
    for record in caplog.records:
        assert TOKEN not in str(record.args) and TOKEN not in str(record.__dict__)


def test_promotion_workflow_through_the_admin_api(client: TestClient, registry) -> None:
    listing = client.get("/admin/models", headers=AUTH).json()["models"]
    assert [(m["name"], m["aliases"], m["serving"]) for m in listing] == [
        ("catdog", {"production": 1}, {"production": 1})]

    canary = client.post("/admin/models/catdog/promote", headers=AUTH,
                         json={"version": 2, "alias": "canary", "percent": 25, "reason": "try v2"})
    assert canary.status_code == 200, canary.text
    assert canary.json()["decision"]["state"] == "committed"
    assert canary.json()["split_percent"] == {"production": 75, "canary": 25}
    for i in range(20):
        key = f"user-{i}"
        answer = client.post("/v2/models/catdog/infer", json=IMAGE,
                             headers={"X-Zhijian-Route-Key": key})
        assert answer.json()["model_version"] == ("2" if goes_to_canary(key, 25) else "1")

    percent = client.post("/admin/models/catdog/canary", headers=AUTH, json={"percent": 60})
    assert percent.status_code == 200, percent.text
    assert percent.json()["split_percent"] == {"production": 40, "canary": 60}
    assert registry.canary_percent("catdog") == 60

    production = client.post("/admin/models/catdog/promote", headers=AUTH,
                             json={"version": 2, "alias": "production"})
    assert production.status_code == 200, production.text
    assert production.json()["serving"]["production"] == 2
    assert client.post("/v2/models/catdog/infer", json=IMAGE,
                       headers={"X-Zhijian-Route-Key": "anyone"}).status_code == 200

    back = client.post("/admin/models/catdog/rollback", headers=AUTH, json={"reason": "test"})
    assert back.status_code == 200, back.text
    assert back.json()["decision"]["version"] == 1 and back.json()["serving"]["production"] == 1

    shown = client.get("/admin/models/catdog", headers=AUTH).json()
    assert [v["version"] for v in shown["versions"]] == [1, 2, 3]
    assert shown["aliases"]["production"] == 1


def test_gates_and_bad_requests(client: TestClient) -> None:
    refused = client.post("/admin/models/catdog/promote", headers=AUTH,
                          json={"version": 3, "alias": "production"})
    assert refused.status_code == 409 and "quality" in refused.json()["error"]
    no_reason = client.post("/admin/models/catdog/promote", headers=AUTH,
                            json={"version": 3, "alias": "production", "force": True})
    assert no_reason.status_code == 409 and "--reason" in no_reason.json()["error"]
    assert client.post("/admin/models/nope/promote", headers=AUTH,
                       json={"version": 1, "alias": "production"}).status_code == 404
    assert client.get("/admin/models/%2e%2e", headers=AUTH).status_code == 404
    assert client.post("/admin/models/catdog/promote", headers=AUTH,
                       json={"version": 9, "alias": "shadow"}).status_code == 404
    assert client.post("/admin/models/catdog/promote", headers=AUTH,
                       json={"version": 1, "alias": "Bad Alias"}).status_code == 400
    assert client.post("/admin/models/catdog/promote", headers=AUTH,
                       json={"version": 1}).status_code == 400
    forced = client.post("/admin/models/catdog/promote", headers=AUTH,
                         json={"version": 3, "alias": "shadow", "force": True, "reason": "look"})
    assert forced.status_code == 200, forced.text
    reload = client.post("/admin/reload", headers=AUTH).json()
    assert reload["serving"]["catdog"]["shadow"] == 3


def test_registry_changes_outside_the_api_are_followed_on_reload(client: TestClient,
                                                                 registry) -> None:
    from zhijian_core.registry import promote

    key = next(f"user-{i}" for i in range(100) if not goes_to_canary(f"user-{i}", 60))
    headers = {"X-Zhijian-Route-Key": key}
    assert registry.aliases("catdog")["production"] == 1
    promote(registry, "catdog", 2, "production", actor="cli", reason="outside the api")
    assert client.post("/v2/models/catdog/infer", json=IMAGE, headers=headers
                       ).json()["model_version"] == "1"  # not followed until the next reload
    assert client.post("/admin/reload", headers=AUTH).json()["serving"]["catdog"]["production"] == 2
    assert client.post("/v2/models/catdog/infer", json=IMAGE, headers=headers
                       ).json()["model_version"] == "2"

"""The registry unreachable: the service keeps serving what it has loaded, refuses (503 with
``Retry-After``) only what needs the registry (a version not loaded yet, following an alias move),
and recovers by itself when the registry returns.

The outage is a real registry behind a switch that makes every call fail as an unreachable
tracking server does (``RegistryUnavailableError``); the hosts and the gateway run in-process.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from fastapi.testclient import TestClient

from services.errors import RegistryUnavailableError
from services.gateway import Fleet, GatewayConfig, create_app
from services.host import ModelHost
from services.host.source import RegistrySource
from tests.services.bundles import make_image_bundle
from tests.services.gateways import TOKEN, Recorder

MODEL = "outage"
PIXELS = {"inputs": [{"name": "pixel_values", "datatype": "FP32", "shape": [1, 3, 8, 8],
                      "data": np.linspace(0, 1, 192).tolist()}]}
ADMIN = {"Authorization": f"Bearer {TOKEN}"}


class Switch(RegistrySource):
    """The registry source, or an unreachable registry while :attr:`down`."""

    down = False

    def _check(self) -> None:
        if self.down:
            raise RegistryUnavailableError("cannot reach the model registry (connection refused)")

    def locate(self, name: str, version: int) -> Path:
        self._check()
        return super().locate(name, version)

    def aliases(self, name: str) -> dict[str, int]:
        self._check()
        return super().aliases(name)


def _version(client: TestClient, path: str) -> tuple[int, str | None]:
    answer = client.post(path, content=json.dumps(PIXELS))
    return answer.status_code, answer.json().get("model_version")


def test_an_unreachable_registry_stops_only_new_loads(tmp_path: Path) -> None:
    from zhijian_core.registry import Registry, promote

    registry = Registry()
    for number in (1, 2):
        registry.register(make_image_bundle(tmp_path / f"v{number}", name=MODEL, seed=number),
                          MODEL)
    promote(registry, MODEL, 1, "production", actor="test")
    source = Switch(registry)
    fleet = Fleet({MODEL: ModelHost(MODEL, source)}, registry.canary_percent)
    app = Recorder(create_app(GatewayConfig(admin_token=TOKEN, poll_interval_s=0), fleet, registry))
    infer = f"/v2/models/{MODEL}/infer"
    with TestClient(app) as client:
        assert _version(client, infer) == (200, "1")

        source.down = True
        try:
            assert client.post("/admin/reload", headers=ADMIN).status_code == 200
            assert _version(client, infer) == (200, "1")  # what is loaded keeps serving
            assert client.get("/v2/health/ready").status_code == 200
            assert client.get(f"/v2/models/{MODEL}/ready").status_code == 200
            fresh = client.post(f"/v2/models/{MODEL}/versions/2/infer", content=json.dumps(PIXELS))
            assert fresh.status_code == 503 and fresh.headers["Retry-After"]
            assert "registry" in fresh.json()["error"]
            assert client.get(f"/v2/models/{MODEL}/versions/2/ready").status_code == 503
        finally:
            source.down = False

        assert _version(client, f"/v2/models/{MODEL}/versions/2/infer") == (200, "2")
        promote(registry, MODEL, 2, "production", actor="test")
        assert client.post("/admin/reload", headers=ADMIN).status_code == 200
        assert _version(client, infer) == (200, "2")

"""Shadow traffic: never on the response path, bounded, counted, compared."""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from services.errors import NotReadyError
from services.gateway import Fleet, GatewayConfig, create_app
from services.gateway.shadow import agreement
from services.host import HostConfig, HostRequest, HostResponse, ModelHost, StaticSource
from tests.services.gateways import TOKEN, Recorder

BODY = {"inputs": [{"name": "pixel_values", "datatype": "FP32", "shape": [1, 3, 8, 8],
                    "data": np.linspace(0, 1, 192).tolist()}]}


class ShadowBehaviour:
    """A real host whose ``shadow`` answers are delayed, or refused, on demand."""

    def __init__(self, host: ModelHost, mode: str) -> None:
        self.host = host
        self.mode = mode
        self.shadow_calls = 0

    async def infer(self, request: HostRequest) -> HostResponse:
        if request.target.alias == "shadow":
            self.shadow_calls += 1
            if self.mode == "slow":
                await asyncio.sleep(2.0)
            elif self.mode == "failing":
                raise NotReadyError("the shadow version is broken on purpose")
        return await self.host.infer(request)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.host, name)


def _client(versions: dict, mode: str, shadow: bool) -> tuple[TestClient, ShadowBehaviour, Any]:
    aliases = {"production": 1, **({"shadow": 2} if shadow else {})}
    source = StaticSource({"images": versions["images"]}, {"images": aliases})
    host = ShadowBehaviour(ModelHost("images", source, HostConfig()), mode)
    config = GatewayConfig(admin_token=TOKEN, poll_interval_s=0, shadow_percent=100,
                           shadow_max_in_flight=2)
    app = create_app(config, Fleet({"images": host}, lambda name: None))
    return TestClient(Recorder(app)), host, app


def _p50_and_bodies(client: TestClient, count: int) -> tuple[float, list[bytes]]:
    times, bodies = [], []
    for i in range(count):
        start = time.perf_counter()
        answer = client.post("/v2/models/images/infer", json={**BODY, "id": f"r{i}"})
        times.append(time.perf_counter() - start)
        assert answer.status_code == 200 and answer.headers["x-zhijian-model-version"] == "1"
        bodies.append(answer.content)
    return statistics.median(times), bodies


@pytest.mark.parametrize("mode", ["slow", "failing"])
def test_a_slow_or_failing_shadow_never_touches_production(versions: dict, mode: str) -> None:
    with _client(versions, mode, shadow=False)[0] as plain:
        _p50_and_bodies(plain, 5)  # warm
        base_p50, base_bodies = _p50_and_bodies(plain, 40)
    client, host, app = _client(versions, mode, shadow=True)
    with client:
        _p50_and_bodies(client, 5)
        p50, bodies = _p50_and_bodies(client, 40)
        counters = app.state.gateway.shadow.counters["images"]
        assert bodies == base_bodies  # byte-identical production answers
        assert p50 <= 1.2 * base_p50 + 0.005, (p50, base_p50)
        assert host.shadow_calls >= 1
        assert counters.sent == host.shadow_calls
        if mode == "slow":  # 2 copies at most run at once: the others are dropped, and counted
            assert counters.dropped >= 40 and counters.sent + counters.dropped == 45
        else:
            assert counters.failed == counters.sent and counters.failures == {
                "NotReadyError": counters.sent}
        stats = client.get("/v2/models/images/stats").json()
        assert stats["shadow"]["sent"] == counters.sent


def test_a_healthy_shadow_is_compared_with_production(versions: dict) -> None:
    client, host, app = _client(versions, "healthy", shadow=True)
    with client:
        for i in range(6):
            assert client.post("/v2/models/images/infer", json={**BODY, "id": f"k{i}"}).status_code == 200
        client.portal.call(app.state.gateway.shadow.drain)
        counters = app.state.gateway.shadow.counters["images"]
        assert counters.compared == counters.sent >= 1
        assert 0.0 <= counters.agreement <= 1.0


def test_agreement_is_label_equality_or_cosine() -> None:
    def answer(name: str, rows: list[list[float]]) -> HostResponse:
        return HostResponse(version=1, outputs={name: np.array(rows, np.float32)}, batch_items=1,
                            task="classification")

    a = answer("probabilities", [[0.9, 0.1], [0.2, 0.8]])
    b = answer("probabilities", [[0.6, 0.4], [0.7, 0.3]])
    assert agreement(a, b) == 0.5
    e = answer("embedding", [[1.0, 0.0]])
    f = answer("embedding", [[1.0, 1.0]])
    assert agreement(e, f) == pytest.approx(2 ** -0.5)
    assert agreement(a, e) is None

"""A replica freezes its start-up heap once start-up is done, before its first request."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
from fastapi.testclient import TestClient

from services.gateway import Fleet, GatewayConfig, create_app
from tests.services.gateways import TOKEN, BlockingHost

SCRIPT = textwrap.dedent("""
    import gc
    from services.heap import settle
    keep = [[i] for i in range(50_000)]      # alive at start-up: frozen
    frozen = settle()
    later = [[i] for i in range(1_000)]       # built afterwards: still collected as usual
    print(frozen >= 50_000, gc.get_freeze_count() == frozen,
          sum(len(gc.get_objects(g)) for g in range(3)) < 50_000)
""")


@pytest.mark.timeout(60)
def test_settle_freezes_what_is_alive_and_leaves_later_objects_to_the_collector() -> None:
    # in a child process: a frozen heap cannot be thawed back for the rest of the suite
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                         check=True, timeout=50).stdout.split()
    assert out == ["True", "True", "True"]


@pytest.mark.timeout(60)
def test_the_gateway_calls_on_started_once_before_its_first_request() -> None:
    calls: list[str] = []
    host = BlockingHost()
    host.release.set()
    fleet = Fleet({"slow": host}, lambda name: None)
    app = create_app(GatewayConfig(admin_token=TOKEN, poll_interval_s=0), fleet,
                     on_started=lambda: calls.append("started"))
    assert calls == []
    with TestClient(app) as client:
        assert calls == ["started"]
        assert client.get("/v2/health/live").status_code == 200
        assert client.get("/v2/health/live").status_code == 200
    assert calls == ["started"]

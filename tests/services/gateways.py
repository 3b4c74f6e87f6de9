"""Gateways over tiny bundles for the HTTP tests, the recorder of their error answers, and a host
double that blocks on demand."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from services.errors import ERROR_STATUSES
from services.gateway import Fleet, GatewayConfig, create_app
from services.host import (HostConfig, HostRequest, HostResponse, ModelHost, Readiness,
                           StaticSource)
from services.protocol.models import ModelMetadata

TOKEN = "test-admin-token-0123456789abcdef"
"""The admin token of the test gateways."""

ERROR_ANSWERS: list[tuple[str, int, bytes]] = []
"""(path, status, body) of every non-2xx answer a recorded app gave in this session."""
_LOCK = threading.Lock()


class Recorder:
    """ASGI wrapper recording every non-2xx answer into :data:`ERROR_ANSWERS`."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        answer: dict[str, Any] = {"status": 0, "body": b""}

        async def recording_send(message: dict) -> None:
            if message["type"] == "http.response.start":
                answer["status"] = message["status"]
            elif message["type"] == "http.response.body":
                answer["body"] += message.get("body", b"")
                if not message.get("more_body") and answer["status"] >= 300:
                    with _LOCK:
                        ERROR_ANSWERS.append((scope["path"], answer["status"], answer["body"]))
            await send(message)

        await self.app(scope, receive, recording_send)


def server_timing_stages(header: str) -> dict[str, float]:
    """``{name: milliseconds}`` of the gateway's ``Server-Timing`` value, in its order."""
    stages = {}
    for part in header.split(", "):
        name, _, duration = part.partition(";dur=")
        stages[name] = float(duration)
    return stages


def check_error_answer(path: str, status: int, body: bytes) -> None:
    """One error answer is JSON ``{"error": str}`` with a status of the table."""
    assert status in ERROR_STATUSES, (path, status, body[:200])
    document = json.loads(body)
    assert isinstance(document, dict) and isinstance(document.get("error"), str), (path, body[:200])
    assert document["error"], (path, body)



def build_app(versions: dict[str, dict[int, Path]], aliases: dict[str, dict[str, int]],
              percents: dict[str, int] | None = None, host_config: HostConfig = HostConfig(),
              registry: Any = None, **settings: Any) -> Recorder:
    """A recorded gateway app serving ``versions`` with ``aliases``."""
    source = StaticSource(versions, aliases)
    hosts = {name: ModelHost(name, source, host_config) for name in versions}
    fleet = Fleet(hosts, lambda name: (percents or {}).get(name))
    config = GatewayConfig(admin_token=TOKEN, **{"poll_interval_s": 0, **settings})
    return Recorder(create_app(config, fleet, registry))


class BlockingHost:
    """A host that answers only once :attr:`release` is set (admission and deadline tests)."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.started = asyncio.Event()

    async def infer(self, request: HostRequest) -> HostResponse:
        self.started.set()
        await self.release.wait()
        return HostResponse(version=1, outputs={"probabilities": np.ones((1, 2), np.float32)},
                            batch_items=1, task="classification", labels=("cat", "dog"))

    async def readiness(self, version: int | None = None) -> Readiness:
        return Readiness(True, "", {"production": 1})

    async def metadata(self, version: int | None = None) -> ModelMetadata:
        raise NotImplementedError

    async def preflight(self, version: int) -> Readiness:
        return Readiness(True, "", {"production": 1})

    async def statistics(self, version: int | None = None) -> dict[str, Any]:
        return {"model_stats": [], "host": {}}

    async def sync(self) -> dict[str, int]:
        return {"production": 1}


def blocking_app(**settings: Any) -> tuple[Recorder, BlockingHost]:
    """A recorded gateway over one :class:`BlockingHost` named ``slow``."""
    host = BlockingHost()
    fleet = Fleet({"slow": host}, lambda name: None)
    config = GatewayConfig(admin_token=TOKEN, poll_interval_s=0, **settings)
    return Recorder(create_app(config, fleet)), host


@contextmanager
def serving_over_http(app: Any) -> Iterator[int]:
    """Serve ``app`` with uvicorn on 127.0.0.1 and a free port in a background thread; the port."""
    import uvicorn

    from tests.conftest import free_port

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           access_log=False, lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(timeout=10)

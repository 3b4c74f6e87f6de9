"""The gateway fuzzers against the real service: the application on the shared local Ray, over
HTTP on 127.0.0.1. Every answer is a 200 or a JSON 400 (504 only when the request set its own
deadline), and no replica is lost: the same host processes are alive afterwards, Serve still runs
every replica, and each model still answers. ``make test`` sends 100 requests of each kind;
``make soak`` 2,000 (the counts are printed: ``pytest -s``)."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import httpx
import psutil
import pytest

from services.host import HostConfig
from services.serve.builder import build_app, deployment_name
from services.serve.config import ServeArgs
from tests.reliability.fuzzing import SOAK_EXAMPLES
from tests.reliability.test_fuzz_gateway import MAX_BODY, MAX_ITEMS, run_kinds

pytestmark = pytest.mark.e2e

APP = "zhijian"
RAY_EXAMPLES = 100


class HttpClient:
    """The slice of ``TestClient`` the fuzzers use, over real HTTP."""

    def __init__(self, base: str) -> None:
        self._client = httpx.Client(base_url=base, timeout=60)

    def post(self, path: str, content: bytes | None = None, headers: dict | None = None,
             json: object = None) -> httpx.Response:
        return self._client.post(path, content=content, headers=headers, json=json)

    def get(self, path: str) -> httpx.Response:
        return self._client.get(path)

    def close(self) -> None:
        self._client.close()


def host_processes(models: list[str]) -> set[int]:
    markers = [f"ServeReplica:{APP}:{deployment_name(m)}" for m in models]
    return {p.pid for p in psutil.process_iter(["cmdline"])
            if any(m in " ".join(p.info["cmdline"] or []) for m in markers)}


def running(models: list[str]) -> dict[str, int]:
    from ray import serve

    deployments = serve.status().applications[APP].deployments
    return {m: deployments[deployment_name(m)].replica_states.get("RUNNING", 0) for m in models}


@pytest.fixture(scope="module")
def served(ray_serve, reliability_bundles: dict[str, dict[int, Path]]) -> Iterator[HttpClient]:
    from zhijian_core.registry import Registry, promote

    with pytest.MonkeyPatch.context() as patch:
        ray_serve.use(patch)
        registry = Registry()
        for name, versions in reliability_bundles.items():
            if not registry.exists(name):
                registry.register(versions[1], name)
                promote(registry, name, 1, "production", actor="test", force=True,
                        reason="test bundles: the text one has no evaluation")
        ray_serve.run(build_app(ServeArgs(
            models=sorted(reliability_bundles), host=HostConfig(max_items=MAX_ITEMS),
            host_num_cpus=0.25, gateway_num_cpus=0.1,
            gateway={"max_body_bytes": MAX_BODY})), name=APP)
        client = HttpClient(ray_serve.url)
        yield client
        client.close()


def _fuzz(client: HttpClient, models: list[str], examples: int) -> None:
    before, replicas = host_processes(models), running(models)
    counts = run_kinds(client, examples)  # type: ignore[arg-type]
    assert all(count >= examples for count in counts.values()), counts
    assert host_processes(models) == before and running(models) == replicas, "a replica was lost"


@pytest.mark.timeout(600)
def test_hostile_requests_to_the_real_service(served: HttpClient,
                                              reliability_bundles: dict) -> None:
    _fuzz(served, sorted(reliability_bundles), RAY_EXAMPLES)


@pytest.mark.soak
@pytest.mark.timeout(3600)
def test_hostile_requests_to_the_real_service_soak(served: HttpClient,
                                                   reliability_bundles: dict) -> None:
    _fuzz(served, sorted(reliability_bundles), SOAK_EXAMPLES)

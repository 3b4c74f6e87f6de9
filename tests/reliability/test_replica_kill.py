"""A model-host replica killed under load (shared local Ray, 127.0.0.1, bounded loops).

Two host replicas (0.5 CPU each) at a quarter of their measured capacity, half of what one replica
alone answers (the survivor carries the whole load for the seconds until its replacement is warm,
and that replacement starts on the same 2 cores; at more, the survivor's own admission control
refuses requests: overload, not the kill, which the benchmark measures at 0.4); one replica process
is killed with SIGKILL. At most that replica's ``max_ongoing_requests`` requests fail, none later
than 2 s after the kill; Serve brings the replica count back to 2 within 60 s, and the gateway's
/metrics shows two live replicas of the deployment again.
"""

from __future__ import annotations

import json
import os
import signal
import urllib.request
from pathlib import Path

import numpy as np
import psutil
import pytest

from benchmarks import scenarios
from services.serve.builder import build_app, deployment_name
from services.serve.config import ServeArgs
from tests.reliability.heavy import heavy
from tests.services.bundles import make_image_bundle
from tests.services.test_metrics import parse, value

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

MODEL = "killed"
APP = "zhijian"
MAX_ONGOING = 8
BODY = json.dumps({"inputs": [{"name": "pixel_values", "datatype": "FP32", "shape": [1, 3, 8, 8],
                               "data": np.linspace(0, 1, 192).tolist()}]}).encode()


def host_pids() -> list[int]:
    """PIDs of the live host replica processes of MODEL."""
    marker = f"ServeReplica:{APP}:{deployment_name(MODEL)}"
    return sorted(p.pid for p in psutil.process_iter(["cmdline"])
                  if marker in " ".join(p.info["cmdline"] or []))


def running_replicas() -> int:
    from ray import serve

    deployment = serve.status().applications[APP].deployments[deployment_name(MODEL)]
    return deployment.replica_states.get("RUNNING", 0)


def kill_one() -> None:
    os.kill(host_pids()[0], signal.SIGKILL)


def metrics_replicas(base: str) -> float:
    with urllib.request.urlopen(f"{base}/metrics", timeout=30) as answer:
        families = parse(answer.read().decode())
    return value(families, "zhijian_replicas", deployment=deployment_name(MODEL))


@pytest.fixture
def base(ray_serve, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    from zhijian_core.registry import Registry, promote

    ray_serve.use(monkeypatch)
    registry = Registry()
    registry.register(make_image_bundle(tmp_path / "v1", name=MODEL, graph=heavy(20)), MODEL)
    promote(registry, MODEL, 1, "production", actor="test")
    ray_serve.run(build_app(ServeArgs(models=[MODEL], host_num_cpus=0.5, host_replicas=2,
                                      max_batch_size=4, host_max_ongoing_requests=MAX_ONGOING,
                                      gateway_num_cpus=0.1)), name=APP)
    return ray_serve.url


def test_a_killed_replica_costs_at_most_its_requests_and_comes_back(base: str) -> None:
    url = f"{base}/v2/models/{MODEL}/infer"
    assert len(host_pids()) == 2 and running_replicas() == 2
    capacity = scenarios.capacity(url, BODY, clients=16, seconds=3.0)
    result = scenarios.replica_kill(url, BODY, 0.25 * capacity, kill_one, running_replicas,
                                    expected=2, seconds=12.0, kill_after_s=4.0)
    report = json.dumps(result, default=str)
    print(report)  # the figures, shown by pytest -rP
    assert result["failed"] <= MAX_ONGOING, report
    assert result["last_failure_after_kill_s"] <= 2.0, report
    assert result["recovery_s"] <= 60.0, report
    assert len(host_pids()) == 2
    assert metrics_replicas(base) == 2, report

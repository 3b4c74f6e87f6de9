"""Metrics and cost on a real local Ray (the shared cluster): every replica's values aggregated on
the gateway's ``/metrics``, and the cost accounting reconciled with independent measurements.

Reconciliation over a window of steady load: the usage CPU-seconds within 10% of the host replica
process's CPU time read with psutil; the allocation CPU-seconds equal to the replica's uptime over
the window times the CPUs it holds (and that uptime to the window's wall time); usage at most
allocation, so idle cost is never negative.
"""

from __future__ import annotations

import json
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import psutil
import pytest

from services.metrics.cost import TICK_S
from services.serve.builder import build_app
from services.serve.config import ServeArgs
from tests.services.bundles import make_image_bundle
from tests.services.test_metrics import check_with_promtool, parse, value

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

MODEL = "e2e-cost"
CPUS = 1.0
PIXELS = json.dumps({"inputs": [{"name": "pixel_values", "datatype": "FP32", "shape": [1, 3, 8, 8],
                                 "data": np.linspace(0, 1, 192).tolist()}]}).encode()


def _infer(url: str) -> int:
    request = urllib.request.Request(f"{url}/v2/models/{MODEL}/infer", data=PIXELS, method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as answer:
        answer.read()
        return answer.status


def _scrape(url: str) -> tuple[float, str]:
    with urllib.request.urlopen(f"{url}/metrics", timeout=30) as answer:
        return time.monotonic(), answer.read().decode()


def _replica_cpu_seconds() -> float:
    """CPU seconds (user + system) of the host replica processes of MODEL, read with psutil."""
    total, found = 0.0, 0
    for process in psutil.process_iter(["cmdline"]):
        if f"ServeReplica:zhijian:host-{MODEL}" in " ".join(process.info["cmdline"] or []):
            times = process.cpu_times()
            total += times.user + times.system
            found += 1
    assert found == 1, found
    return total


def _load(url: str, seconds: float, threads: int = 4) -> int:
    stop = time.monotonic() + seconds
    done = [0] * threads

    def worker(index: int) -> None:
        while time.monotonic() < stop:
            assert _infer(url) == 200
            done[index] += 1

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(worker, range(threads)))
    return sum(done)


def test_usage_and_allocation_reconcile_with_the_replica_process(
        ray_serve, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from zhijian_core.registry import Registry, promote

    ray_serve.use(monkeypatch)
    registry = Registry()
    registry.register(make_image_bundle(tmp_path / "b1", name=MODEL, seed=1), MODEL)
    promote(registry, MODEL, 1, "production", actor="e2e")
    ray_serve.run(build_app(ServeArgs(models=[MODEL], host_num_cpus=CPUS, gateway_num_cpus=0.1,
                                      gateway={"poll_interval_s": 0})))
    url = ray_serve.url
    assert all(_infer(url) == 200 for _ in range(10))
    time.sleep(2.5 * TICK_S)  # the warm-up's interval accounted
    start, first = _scrape(url)
    cpu_start = _replica_cpu_seconds()
    answered = _load(url, 8.0)
    time.sleep(2.5 * TICK_S)  # the load's last interval accounted
    end, last = _scrape(url)
    cpu_end = _replica_cpu_seconds()
    before, after = parse(first), parse(last)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    cost = {"model": MODEL, "version": "1", "device": "cpu"}
    usage = delta("zhijian_device_seconds_total", **cost, basis="usage")
    allocation = delta("zhijian_device_seconds_total", **cost, basis="allocation")
    uptime = delta("zhijian_replica_uptime_seconds", deployment=f"host-{MODEL}")
    measured = cpu_end - cpu_start
    assert measured > 0.5, measured  # the window really loaded the replica
    assert usage == pytest.approx(measured, rel=0.10), (usage, measured, answered)
    assert allocation == pytest.approx(uptime * CPUS, rel=1e-6)
    assert uptime == pytest.approx(end - start, abs=2 * TICK_S)
    assert usage <= allocation and allocation - usage >= 0
    assert delta("zhijian_cost_dollars_total", **cost, basis="usage") == pytest.approx(
        usage * 0.05 / 3600)
    # the gateway's and the host's series, from their own processes, on one page
    assert delta("zhijian_requests_total", model=MODEL, version="1", code="200") == answered
    assert delta("zhijian_inferences_total", model=MODEL, version="1") == answered
    assert delta("zhijian_stage_duration_seconds_count", model=MODEL, stage="queue") == answered
    assert value(after, "zhijian_replicas", deployment=f"host-{MODEL}") == 1
    check_with_promtool(last)

"""Load and overload on the real service (shared local Ray, 127.0.0.1, bounded loops).

A compute-bound model (tests/reliability/heavy.py) so that the model, not the per-request
overhead, sets the capacity, as with a real model. Half the measured capacity is answered with no
error; four times the capacity fails only with 429/503 carrying ``Retry-After``, refused within 1 s
and within 10x the median successful latency of the same phase; no request runs past its deadline
+ 1 s; and once the overload stops, the median latency is back within twice the normal in a few
seconds. The absolute figures come from `python -m benchmarks.reliability` (docs/reliability.md).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from benchmarks import scenarios
from services.serve.builder import build_app
from services.serve.config import ServeArgs
from tests.reliability.heavy import heavy
from tests.services.bundles import make_image_bundle

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

MODEL = "overload"
DEADLINE_S = 5.0
BODY = json.dumps({"inputs": [{"name": "pixel_values", "datatype": "FP32", "shape": [1, 3, 8, 8],
                               "data": np.linspace(0, 1, 192).tolist()}]}).encode()


@pytest.fixture
def url(ray_serve, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    from zhijian_core.registry import Registry, promote

    ray_serve.use(monkeypatch)
    registry = Registry()
    registry.register(make_image_bundle(tmp_path / "v1", name=MODEL, graph=heavy(120)), MODEL)
    promote(registry, MODEL, 1, "production", actor="test")
    # a compute-bound model gains nothing from large batches, which only lengthen each wait
    ray_serve.run(build_app(ServeArgs(models=[MODEL], host_num_cpus=1.0, gateway_num_cpus=0.1,
                                      max_batch_size=2, gateway={"deadline_s": DEADLINE_S})))
    return f"{ray_serve.url}/v2/models/{MODEL}/infer"


def test_overload_is_refused_fast_and_recovers(url: str) -> None:
    capacity = scenarios.capacity(url, BODY, clients=16, seconds=3.0)
    assert capacity > 0
    result = scenarios.overload(url, BODY, capacity, factor=4.0, steady_s=4.0, overload_s=4.0,
                                after_s=5.0)
    steady, heavy_phase, after = result["steady"], result["overload"], result["after"]
    report = json.dumps(result, default=str)
    assert steady["ok"] == steady["requests"] > 0, report
    assert heavy_phase["other_failures"] == 0, report  # only 429/503
    assert heavy_phase["rejected"] > 0, report  # four times the capacity cannot all be served
    assert heavy_phase["rejected_without_retry_after"] == 0, report
    assert heavy_phase["rejection_max_s"] <= min(1.0, 10 * heavy_phase["ok_p50_s"]), report
    for phase in (steady, heavy_phase, after):
        assert phase["max_latency_s"] <= DEADLINE_S + 1.0, report
    assert after["other_failures"] == 0, report
    assert result["recovery_s"] <= 5.0, report

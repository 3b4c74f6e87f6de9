"""The automatic canary controller on the shared local Ray: production is a tiny image model, the
canary at 50% the same model with a heavy, useless branch (40 chained 512x512 matrix products:
its graph runs >10x longer). Under load from a background thread the controller rolls the canary back by
itself within seconds: the audit trail holds the abort with the breached check and both arms'
values, the decision counter shows the rollback, and production never failed an answer."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from services.routing import goes_to_canary
from services.serve.builder import build_app
from services.serve.config import ServeArgs
from tests.services.bundles import _save, make_image_bundle
from tests.services.test_metrics import parse, value

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(150)]

MODEL = "e2e-canary-auto"
PIXELS = json.dumps({"inputs": [{"name": "pixel_values", "datatype": "FP32", "shape": [1, 3, 8, 8],
                                 "data": np.linspace(0, 1, 192).tolist()}]}).encode()
SIDE, PRODUCTS = 512, 40
CANARY = {"window_s": 4, "interval_s": 1, "min_samples": 15}
"""A short window and few samples, so that the test takes seconds; the thresholds are the
defaults (p95 at most max(1.5x, +10 ms) of production's)."""


def slow_image_graph(path: Path, seed: int) -> None:
    """The image classifier of tests/services/bundles.py plus a branch the answer does not depend
    on: ``PRODUCTS`` products by a ``SIDE``-square orthogonal matrix of a matrix scaled by the
    input's mean (so nothing is folded away), summed and multiplied by 0 into the logits."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    weights = rng.normal(size=(3, 2)).astype(np.float32)
    heavy = np.linalg.qr(rng.normal(size=(SIDE, SIDE)))[0].astype(np.float32)  # keeps norms
    chain = [helper.make_node("MatMul", [f"h{i}", "heavy"], [f"h{i + 1}"]) for i in range(PRODUCTS)]
    graph = helper.make_graph(
        [helper.make_node("ReduceMean", ["pixel_values"], ["means"], axes=[2, 3], keepdims=0),
         helper.make_node("MatMul", ["means", "weights"], ["raw"]),
         helper.make_node("ReduceMean", ["pixel_values"], ["scale"], keepdims=0),
         helper.make_node("Mul", ["heavy", "scale"], ["h0"]), *chain,
         helper.make_node("ReduceSum", [f"h{PRODUCTS}"], ["total"], keepdims=0),
         helper.make_node("Mul", ["total", "zero"], ["nothing"]),
         helper.make_node("Add", ["raw", "nothing"], ["logits"]),
         helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1)],
        "slow-image",
        [helper.make_tensor_value_info("pixel_values", TensorProto.FLOAT, ["batch", 3, 8, 8])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["batch", 2]),
         helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 2])],
        [numpy_helper.from_array(weights, "weights"), numpy_helper.from_array(heavy, "heavy"),
         numpy_helper.from_array(np.array(0, dtype=np.float32), "zero")])
    _save(graph, path)


class Load:
    """One client in a background thread: sequential requests, each with its own routing key."""

    def __init__(self, url: str) -> None:
        self.url, self.stop, self.answers = url, threading.Event(), []
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        index = 0
        while not self.stop.is_set():
            key, sent = f"key-{index}", time.time()
            request = urllib.request.Request(
                f"{self.url}/v2/models/{MODEL}/infer", data=PIXELS, method="POST",
                headers={"Content-Type": "application/json", "X-Zhijian-Route-Key": key})
            try:
                with urllib.request.urlopen(request, timeout=30) as answer:
                    answer.read()
                    status, version = answer.status, answer.headers["x-zhijian-model-version"]
            except urllib.error.HTTPError as exc:
                status, version = exc.code, None
                exc.read()
                exc.close()
            self.answers.append((sent, time.time(), key, status, version))
            index += 1


def test_a_slow_canary_is_rolled_back_automatically_while_production_answers(
        ray_serve, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from ray import serve

    from zhijian_core.registry import Registry, history, promote

    ray_serve.use(monkeypatch)
    registry = Registry()
    registry.register(make_image_bundle(tmp_path / "v1", name=MODEL, seed=1), MODEL)
    registry.register(make_image_bundle(tmp_path / "v2", name=MODEL, seed=2,
                                        graph=slow_image_graph), MODEL)
    promote(registry, MODEL, 1, "production", actor="e2e")
    promote(registry, MODEL, 2, "canary", percent=50, actor="e2e")
    # the gateway and hosts poll the registry once a minute: the rollback reaches them because
    # the controller tells every gateway replica at once
    ray_serve.run(build_app(ServeArgs(models=[MODEL], host_num_cpus=0.25, gateway_num_cpus=0.1,
                                      gateway={"poll_interval_s": 60}, canary=CANARY)))
    load = Load(ray_serve.url)
    started = time.time()
    load.thread.start()
    try:
        deadline = started + 60
        while "canary" in registry.aliases(MODEL) and time.time() < deadline:
            time.sleep(0.25)
        rolled_back_s = time.time() - started
        assert "canary" not in registry.aliases(MODEL), "no rollback within 60 s"
        time.sleep(3.0)  # answers after the rollback
    finally:
        load.stop.set()
        load.thread.join(timeout=60)

    record = history(registry, MODEL)[-1]
    assert (record.kind, record.state, record.actor) == ("canary_abort", "committed",
                                                        "canary-controller")
    assert (record.prior_version, record.prior_canary_percent) == (2, 50)
    written = record.time_ns / 1e9  # the pending record
    aborted = registry.client.get_run(record.record_id).info.end_time / 1000  # marked committed
    # a slow canary breaches latency, cost per 1,000 inferences, or both (whichever has its
    # samples first): every breached check is on record with both arms' values
    breached = [g for g in record.gates if g.status == "failed"]
    assert breached and {g.name for g in breached} <= {"p95_latency", "cost_per_1k"}, record.gates
    for gate in breached:
        assert f"{gate.name} breached" in record.reason
        assert gate.values["canary"] > gate.values["limit"] > gate.values["production"] > 0
        assert gate.values["canary_samples"] >= CANARY["min_samples"]

    answers = load.answers
    failed = [a for a in answers if a[3] != 200]
    assert not [a for a in failed if not goes_to_canary(a[2], 50)], "production failed answers"
    assert not failed, failed[:5]
    by_version = {v: sum(1 for a in answers if a[4] == v) for v in ("1", "2")}
    assert by_version["1"] > 0 and by_version["2"] > 0, by_version
    # how long after the commit requests still reached the canary: the controller's broadcast to
    # the gateways, not their once-a-minute poll
    effect_s = max(sent for sent, _, _, _, version in answers if version == "2") - aborted
    after = [a for a in answers if a[0] > aborted + 2.0]
    assert len(after) > 10 and all(a[4] == "1" for a in after)
    print(f"\nrollback committed {aborted - started:.1f} s after the load started (seen at "
          f"{rolled_back_s:.1f} s; the protocol took {aborted - written:.3f} s); the last "
          f"request answered by the canary was sent {effect_s:+.3f} s after the commit; "
          f"{len(answers)} answers ({by_version}); breached: "
          + "; ".join(f"{g.name} production {g.values['production']:.4g}, canary "
                      f"{g.values['canary']:.4g}" for g in breached))
    assert effect_s < 2.0

    with urllib.request.urlopen(f"{ray_serve.url}/metrics", timeout=30) as answer:
        samples = parse(answer.read().decode())
    assert sum(value(samples, "zhijian_canary_decisions_total", model=MODEL, decision="rollback",
                     check=g.name) for g in breached[:1]) == 1  # counted under the first breach
    assert value(samples, "zhijian_canary_decisions_total", model=MODEL, decision="hold") >= 1
    assert value(samples, "zhijian_traffic_percent", model=MODEL, alias="canary") == 0
    assert value(samples, "zhijian_traffic_percent", model=MODEL, alias="production") == 100
    assert value(samples, "zhijian_alias_version", model=MODEL, alias="canary") == 0
    assert value(samples, "zhijian_alias_version", model=MODEL, alias="production") == 1
    assert value(samples, "zhijian_canary_observed", model=MODEL, arm="canary",
                 check="p95_latency") > value(samples, "zhijian_canary_observed", model=MODEL,
                                              arm="production", check="p95_latency")
    status = serve.get_deployment_handle("canary-controller", "zhijian").status.remote().result()
    assert status[MODEL]["decision"] == "rollback" and status[MODEL]["record_id"] == \
        record.record_id

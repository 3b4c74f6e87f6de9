"""A promotion to a version that cannot serve: the version serving now keeps serving, and the
promotion is answered as failed (409) and recorded in the audit trail.

Two ways a version cannot serve: its graph fails the warm-up run (it loads, then ``session.run``
fails), or its files no longer match their digests. The admin API has a model host verify, load and
warm up the version before the registry's alias moves (the ``serving_warmup`` gate).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from services.gateway import Fleet, GatewayConfig, create_app
from services.host import ModelHost, RegistrySource
from tests.services.bundles import IMAGE_SIDE, _save, make_image_bundle
from tests.services.gateways import TOKEN, Recorder

pytestmark = pytest.mark.timeout(300)

MODEL = "fragile"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}
PIXELS = json.dumps({"inputs": [{"name": "pixel_values", "datatype": "FP32",
                                 "shape": [1, 3, 8, 8],
                                 "data": np.linspace(0, 1, 192).tolist()}]})


def failing_graph(path: Path, seed: int) -> None:
    """Loads fine; every run whose batch is not a multiple of 3 fails (a Reshape to rows of 3)."""
    from onnx import TensorProto, helper, numpy_helper

    weights = np.random.default_rng(seed).normal(size=(3, 2)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("ReduceMean", ["pixel_values"], ["means"], axes=[2, 3], keepdims=0),
         helper.make_node("MatMul", ["means", "weights"], ["raw"]),
         helper.make_node("Reshape", ["raw", "rows_of_3"], ["odd"]),
         helper.make_node("Reshape", ["odd", "rows_of_2"], ["logits"]),
         helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1)],
        "fails-at-run",
        [helper.make_tensor_value_info("pixel_values", TensorProto.FLOAT,
                                       ["batch", 3, IMAGE_SIDE, IMAGE_SIDE])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["batch", 2]),
         helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 2])],
        [numpy_helper.from_array(weights, "weights"),
         numpy_helper.from_array(np.array([-1, 3], dtype=np.int64), "rows_of_3"),
         numpy_helper.from_array(np.array([-1, 2], dtype=np.int64), "rows_of_2")])
    _save(graph, path)


def _flip_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def test_a_version_that_cannot_serve_is_refused_on_record(tmp_path: Path) -> None:
    from zhijian_core.registry import Registry, history, promote

    registry = Registry()
    registry.register(make_image_bundle(tmp_path / "v1", name=MODEL, seed=1), MODEL)
    registry.register(make_image_bundle(tmp_path / "v2", name=MODEL, seed=2, graph=failing_graph),
                      MODEL)
    registry.register(make_image_bundle(tmp_path / "v3", name=MODEL, seed=3), MODEL)
    promote(registry, MODEL, 1, "production", actor="test")
    fleet = Fleet({MODEL: ModelHost(MODEL, RegistrySource(registry))}, registry.canary_percent)
    app = Recorder(create_app(GatewayConfig(admin_token=TOKEN, poll_interval_s=0), fleet, registry))
    infer = f"/v2/models/{MODEL}/infer"
    with TestClient(app) as client:
        assert client.post(infer, content=PIXELS).json()["model_version"] == "1"

        for alias in ("production", "canary"):
            answer = client.post(f"/admin/models/{MODEL}/promote", headers=ADMIN,
                                 json={"version": 2, "alias": alias, "percent": 10}
                                 if alias == "canary" else {"version": 2, "alias": alias})
            assert answer.status_code == 409, answer.text
            assert "serving_warmup" in answer.json()["error"]
            assert client.post(infer, content=PIXELS).json()["model_version"] == "1"

        _, path = registry.resolve(MODEL, 3)
        _flip_byte(path / "model.onnx")
        answer = client.post(f"/admin/models/{MODEL}/promote", headers=ADMIN,
                             json={"version": 3, "alias": "production", "force": True,
                                   "reason": "try anyway"})
        assert answer.status_code == 409 and "model.onnx" in answer.json()["error"]
        assert client.post(infer, content=PIXELS).json()["model_version"] == "1"

    assert registry.aliases(MODEL) == {"production": 1}
    refused = [r for r in history(registry, MODEL) if r.state == "refused"]
    assert [(r.target_version, r.alias) for r in refused] == [
        (2, "production"), (2, "canary"), (3, "production")]
    assert all(any(g.status == "failed" and g.name in ("serving_warmup", "digests")
                   for g in r.gates) for r in refused)

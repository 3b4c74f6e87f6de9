"""The Serve application on a real local Ray (127.0.0.1, free port): one shared cluster.

Registered bundles served by the typed builder's deployments; the real tritonclient in both modes;
dynamic batching at concurrency 16; routing by two gateway replicas exactly as the formula says; a
promotion through the CLI and the admin API under steady load with zero failed requests.
"""

from __future__ import annotations

import base64
import json
import threading
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from services.routing import goes_to_canary
from services.serve.builder import build_app
from services.serve.config import ServeArgs
from tests.services.bundles import make_image_bundle, make_text_bundle, png_bytes
from tests.services.gateways import check_error_answer, server_timing_stages

pytestmark = pytest.mark.e2e

PIXELS = {"inputs": [{"name": "pixel_values", "datatype": "FP32", "shape": [1, 3, 8, 8],
                      "data": np.linspace(0, 1, 192).tolist()}]}


def _post(url: str, body: dict, headers: dict | None = None) -> tuple[int, dict, dict]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, dict(answer.headers), json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        check_error_answer(url, exc.code, raw)  # JSON {"error"} with a status of the table
        return exc.code, dict(exc.headers), json.loads(raw)


def _register(tmp_path: Path, name: str, versions: int, kind: str = "image") -> None:
    from zhijian_core.registry import Registry, promote

    registry = Registry()
    for number in range(1, versions + 1):
        make = make_image_bundle if kind == "image" else make_text_bundle
        registry.register(make(tmp_path / f"{name}-{number}", name=name, seed=number), name)
    # the hand-made text bundle has no evaluation of its own: its poc gate is forced, on record
    promote(registry, name, 1, "production", actor="e2e", force=kind == "text",
            reason="tiny embedding bundle without test data" if kind == "text" else "")


@pytest.fixture
def served(ray_serve, monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """``served(models, **args)``: register tiny bundles in the cluster's registry and deploy."""
    ray_serve.use(monkeypatch)

    def deploy(**args) -> str:
        ray_serve.run(build_app(ServeArgs(**{"host_num_cpus": 0.25, "gateway_num_cpus": 0.1,
                                             "gateway": {"poll_interval_s": 1}, **args})))
        return ray_serve.url
    return deploy


def test_oip_and_tritonclient_in_both_modes(served, tmp_path: Path) -> None:
    import tritonclient.http as httpclient

    _register(tmp_path, "e2e-images", 1)
    _register(tmp_path, "e2e-texts", 1, kind="text")
    url = served(models=["e2e-images", "e2e-texts"])
    status, headers, body = _post(f"{url}/v2/models/e2e-images/infer", PIXELS)
    assert status == 200 and body["model_version"] == "1"
    assert headers["x-zhijian-model-version"] == "1" and headers["x-request-id"]
    status, _, body = _post(f"{url}/v1/models/e2e-texts:predict", {"instances": ["good movie"]})
    assert status == 200 and len(body["predictions"][0]) == 4
    status, _, body = _post(f"{url}/v2/models/nope/infer", PIXELS)
    assert status == 404 and "error" in body

    client = httpclient.InferenceServerClient(url.removeprefix("http://"))
    assert client.is_server_ready() and client.is_model_ready("e2e-images")
    for binary in (True, False):
        image = httpclient.InferInput("image", [1], "BYTES")
        encoded = png_bytes() if binary else base64.b64encode(png_bytes())  # JSON carries text
        image.set_data_from_numpy(np.array([encoded], dtype=object), binary_data=binary)
        result = client.infer("e2e-images", [image], outputs=[
            httpclient.InferRequestedOutput("probabilities", binary_data=binary)])
        assert result.as_numpy("probabilities").shape == (1, 2)
        text = httpclient.InferInput("text", [2], "BYTES")
        text.set_data_from_numpy(np.array(["good flight", "bad"], dtype=object), binary_data=binary)
        vectors = client.infer("e2e-texts", [text]).as_numpy("embedding")
        assert vectors.shape == (2, 4) and np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    assert client.get_model_metadata("e2e-images")["inputs"][0]["name"] == "image"
    stats = client.get_inference_statistics("e2e-images")["model_stats"][0]
    assert stats["inference_count"] >= 3


def test_requests_are_batched_at_concurrency_16(served, tmp_path: Path) -> None:
    _register(tmp_path, "e2e-batch", 1)
    url = served(models=["e2e-batch"], max_batch_size=16, batch_wait_timeout_s=0.005,
                 gateway={"poll_interval_s": 1, "server_timing": True})
    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(lambda _: _post(f"{url}/v2/models/e2e-batch/infer", PIXELS),
                                range(160)))
    assert [status for status, _, _ in answers] == [200] * 160
    for _, headers, _ in answers:  # through Ray the host's batcher adds its queue stage
        timing = server_timing_stages(headers["server-timing"])
        assert list(timing) == ["gateway", "host", "queue", "input", "infer", "output"], timing
        assert timing["gateway"] >= timing["host"] >= timing["infer"] > 0
    with urllib.request.urlopen(f"{url}/v2/models/e2e-batch/stats", timeout=30) as answer:
        stats = json.loads(answer.read())["model_stats"][0]
    sizes = {entry["batch_size"]: entry["compute_infer"]["count"] for entry in stats["batch_stats"]}
    assert sum(size * count for size, count in sizes.items()) >= 160
    assert max(sizes) > 1, sizes


def test_two_gateway_replicas_route_2000_keys_exactly_by_the_formula(served, tmp_path: Path,
                                                                     ray_serve) -> None:
    from zhijian_core.registry import Registry, promote

    _register(tmp_path, "e2e-canary", 2)
    promote(Registry(), "e2e-canary", 2, "canary", percent=30, actor="e2e")
    url = served(models=["e2e-canary"], gateway_replicas=2)
    keys = [f"user-{i}" for i in range(2000)]

    def version(key: str) -> int:
        status, headers, _ = _post(f"{url}/v2/models/e2e-canary/infer", PIXELS,
                                   {"X-Zhijian-Route-Key": key})
        assert status == 200
        return int(headers["x-zhijian-model-version"])

    with ThreadPoolExecutor(8) as pool:
        answered = list(pool.map(version, keys))
    expected = [2 if goes_to_canary(key, 30) else 1 for key in keys]
    assert answered == expected
    assert 450 < expected.count(2) < 750


def test_cli_promotion_through_the_admin_api_under_load_fails_nothing(
        served, tmp_path: Path, ray_serve, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from zhijian_core.cli.main import app
    from zhijian_core.registry import history

    _register(tmp_path, "e2e-swap", 2)
    url = served(models=["e2e-swap"])
    monkeypatch.setenv("ZHIJIAN_ADMIN_URL", url)
    monkeypatch.setenv("ZHIJIAN_ADMIN_TOKEN", ray_serve.token)
    stop, seen, failures = threading.Event(), [], []

    def load() -> None:
        while not stop.is_set():
            status, headers, body = _post(f"{url}/v2/models/e2e-swap/infer", PIXELS)
            (seen if status == 200 else failures).append(
                headers.get("x-zhijian-model-version") if status == 200 else (status, body))

    workers = [threading.Thread(target=load) for _ in range(4)]
    for worker in workers:
        worker.start()
    try:
        done = CliRunner().invoke(app, ["promote", "e2e-swap", "2", "--to", "production",
                                        "--reason", "e2e"])
        assert done.exit_code == 0, done.output
        assert "production -> v2 (was v1)" in done.output
        for _ in range(200):  # the swap is in-process; answers move to v2 shortly after
            if seen and seen[-1] == "2":
                break
            threading.Event().wait(0.05)
    finally:
        stop.set()
        for worker in workers:
            worker.join()
    assert not failures
    assert seen[-1] == "2" and "1" in seen
    from zhijian_core.registry import Registry

    record = history(Registry(), "e2e-swap")[-1]
    assert (record.actor, record.state, record.target_version) == ("admin-api", "committed", 2)

    monkeypatch.setenv("ZHIJIAN_ADMIN_TOKEN", "wrong-token-0123456789abcdef")
    refused = CliRunner().invoke(app, ["rollback", "e2e-swap"])
    assert refused.exit_code != 0 and "answered 403" in str(refused.exception)


def test_each_request_is_one_json_line_in_the_replica_log_and_the_token_in_none(
        served, tmp_path: Path, ray_serve) -> None:
    import time

    import ray

    _register(tmp_path, "e2e-logs", 1)
    url = served(models=["e2e-logs"])
    request_id = f"log-check-{time.time_ns()}"
    status, headers, _ = _post(f"{url}/v2/models/e2e-logs/infer", PIXELS,
                               {"X-Request-Id": request_id})
    assert status == 200 and headers["x-request-id"] == request_id
    logs = Path(ray._private.worker._global_node.get_logs_dir_path())
    lines: list[dict] = []
    for _ in range(100):  # Ray flushes replica stderr to its log files asynchronously
        for path in logs.rglob("*"):
            if path.is_file():
                text = path.read_text(errors="replace")
                assert ray_serve.token not in text, f"the admin token leaked into {path}"
                lines += [json.loads(line) for line in text.splitlines()
                          if request_id in line and line.startswith("{")]
        if lines:
            break
        time.sleep(0.1)
    (line,) = lines
    assert line["request_id"] == request_id and line["model"] == "e2e-logs"
    assert line["status"] == 200 and str(line["version"]) == "1" and line["batch_size"] == 1
    assert line["route"] == "/v2/models/{model}/infer" and line["latency_ms"] > 0

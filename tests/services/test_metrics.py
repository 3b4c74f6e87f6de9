"""The service's metrics, in-process: values and labels after real requests, label values that no
request can choose, and ``promtool check metrics`` on the ``/metrics`` answer."""

from __future__ import annotations

import os
import random
import shutil
import string
import subprocess
from typing import Iterator

import numpy as np
import pytest
from fastapi.testclient import TestClient

from services.errors import ERROR_STATUSES
from services.metrics import CONTENT_TYPE
from tests.services.gateways import blocking_app, build_app

Samples = dict[tuple[str, frozenset], float]

PIXELS = {"inputs": [{"name": "pixel_values", "datatype": "FP32", "shape": [2, 3, 8, 8],
                      "data": np.linspace(0, 1, 384).tolist()}]}
INFER = "/v2/models/{model}/infer"


def parse(text: str) -> Samples:
    """Every sample of an exposition: (name, labels) to value."""
    from prometheus_client.parser import text_string_to_metric_families

    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sum of ``name``'s samples whose labels include ``labels`` (0 when none)."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= ls)


def label_values(samples: Samples, key: str) -> set[str]:
    """Every value of label ``key`` among the ``zhijian_`` samples."""
    return {dict(ls)[key] for (n, ls) in samples if n.startswith("zhijian_") and key in dict(ls)}


def check_with_promtool(text: str) -> None:
    """``promtool check metrics`` finds no problem in ``text`` (a CI run without promtool fails)."""
    promtool = shutil.which("promtool")
    if promtool is None:
        if os.environ.get("CI"):
            pytest.fail("promtool is missing: scripts/provision.sh installs Debian's prometheus")
        pytest.skip("promtool is not installed (apt-get install prometheus)")
    result = subprocess.run([promtool, "check", "metrics"], input=text.encode(),
                            capture_output=True, timeout=60)
    assert result.returncode == 0 and not result.stdout.strip() and not result.stderr.strip(), (
        result.stdout.decode()[:2000], result.stderr.decode()[:2000])


@pytest.fixture
def client(versions: dict) -> Iterator[TestClient]:
    app = build_app(versions, {"images": {"production": 1}, "texts": {"production": 1}})
    with TestClient(app) as client:
        yield client


def scrape(client: TestClient) -> Samples:
    answer = client.get("/metrics")
    assert answer.status_code == 200 and answer.headers["content-type"] == CONTENT_TYPE
    return parse(answer.text)


def test_requests_stages_batches_and_cost_are_counted(client: TestClient) -> None:
    before = scrape(client)
    for _ in range(3):
        assert client.post("/v2/models/images/infer", json=PIXELS).status_code == 200
    assert client.post("/v2/models/nope/infer", json=PIXELS).status_code == 404
    assert client.post("/v2/models/images/versions/4/infer", json=PIXELS).status_code == 200
    assert client.post("/v2/models/images/versions/4/infer", json=PIXELS).status_code == 200
    after = scrape(client)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    ok = {"model": "images", "version": "1", "route": INFER}
    assert delta("zhijian_requests_total", **ok, code="200") == 3
    assert delta("zhijian_request_duration_seconds_count", **ok) == 3
    assert delta("zhijian_request_errors_total", **ok) == 0
    # an unknown model is no label value: the model label is empty, the route is the template
    assert delta("zhijian_request_errors_total", model="", version="", route=INFER, code="404") == 1
    # /metrics itself is left out of the request metrics
    assert value(after, "zhijian_requests_total", route="/metrics") == 0
    host = {"model": "images", "version": "1"}
    for stage in ("preprocess", "inference", "postprocess"):
        assert delta("zhijian_stage_duration_seconds_count", **host, stage=stage) == 3
    assert delta("zhijian_stage_duration_seconds_sum", **host, stage="inference") > 0
    assert delta("zhijian_batch_size_count", **host) == 3
    assert delta("zhijian_batch_size_sum", **host) == 3  # one request per batch in-process
    assert delta("zhijian_inferences_total", **host, outcome="success") == 3
    assert delta("zhijian_inference_compute_seconds_total", **host, device="cpu") > 0
    # version 4 has no alias: loaded into the LRU on the first request, found there on the second
    assert delta("zhijian_lru_lookups_total", model="images", outcome="miss") == 1
    assert delta("zhijian_lru_lookups_total", model="images", outcome="hit") == 1
    assert delta("zhijian_model_load_duration_seconds_count", model="images",
                 outcome="success") >= 1
    assert value(after, "zhijian_model_warmup_duration_seconds_count", model="images") >= 1
    # cost series exist from the version's load on, for both bases
    for version in ("1", "4"):
        for basis in ("usage", "allocation"):
            key = ("zhijian_cost_dollars_total", frozenset(
                {"model": "images", "version": version, "device": "cpu", "basis": basis}.items()))
            assert key in after
    assert value(after, "zhijian_price_dollars_per_hour", device="cpu") == 0.05
    assert value(after, "zhijian_replicas", deployment="gateway") == 1


def test_cost_follows_the_price_table(versions: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZHIJIAN_PRICES", '{"cpu": {"default": 36.0}}')
    app = build_app(versions, {"images": {"production": 3}})
    with TestClient(app) as client:
        before = scrape(client)  # earlier tests' hosts may have priced this version already
        for _ in range(2):
            assert client.post("/v2/models/images/infer", json=PIXELS).status_code == 200
        app.app.state.gateway.fleet.hosts["images"].meter.tick()
        samples = scrape(client)
    labels = {"model": "images", "version": "3", "device": "cpu"}
    for basis in ("usage", "allocation"):
        seconds, dollars = (
            value(samples, name, **labels, basis=basis) - value(before, name, **labels, basis=basis)
            for name in ("zhijian_device_seconds_total", "zhijian_cost_dollars_total"))
        assert seconds > 0 and dollars == pytest.approx(seconds * 36.0 / 3600)
    assert value(samples, "zhijian_price_dollars_per_hour", device="cpu") == 36.0


def test_admission_rejections_and_in_flight() -> None:
    app, host = blocking_app(max_in_flight=1)
    with TestClient(app) as client:
        before = scrape(client)
        first = client.portal.start_task_soon(
            lambda: _post_async(client, "/v2/models/slow/infer"))
        client.portal.call(host.started.wait)
        assert value(scrape(client), "zhijian_requests_in_flight", model="slow") == 1
        assert client.post("/v2/models/slow/infer", json=PIXELS).status_code == 429
        client.portal.call(host.release.set)
        first.result(timeout=10)
        after = scrape(client)
    rejected = value(after, "zhijian_admission_rejections_total", model="slow") - value(
        before, "zhijian_admission_rejections_total", model="slow")
    assert rejected == 1
    assert value(after, "zhijian_requests_in_flight", model="slow") == 0


async def _post_async(client: TestClient, path: str) -> int:
    import httpx

    transport = httpx.ASGITransport(app=client.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        return (await http.post(path, json=PIXELS)).status_code


def test_no_label_value_comes_from_a_request(client: TestClient) -> None:
    before = scrape(client)  # the process's metrics hold earlier tests' series too
    rng = random.Random(7)
    alphabet = string.ascii_letters + string.digits + "-._~%:"
    routes = set(client.get("/openapi.json").json()["paths"]) | {"/openapi.json"}
    for _ in range(60):
        name = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 30)))
        version = str(rng.randint(0, 10**12))
        for method, path in (("POST", f"/v2/models/{name}/infer"),
                             ("POST", f"/v2/models/images/versions/{version}/infer"),
                             ("GET", f"/v2/models/{name}"), ("GET", f"/{name}"),
                             ("POST", f"/v1/models/{name}:predict"), ("GET", f"/admin/{name}")):
            client.request(method, path, json=PIXELS)
    samples = {key: v for key, v in scrape(client).items() if key not in before}
    assert label_values(samples, "model") <= {"", "images", "texts", "slow"}
    assert label_values(samples, "route") <= routes | {""}
    assert all(v == "" or v.isdigit() and int(v) <= 5 for v in label_values(samples, "version"))
    assert label_values(samples, "code") <= {str(s) for s in ERROR_STATUSES} | {"200"}
    assert len(samples) < 1000  # 360 requests with random names, a bounded number of new series


def test_promtool_finds_no_problem_in_the_exposition(client: TestClient) -> None:
    for path in ("/v2/models/images/infer", "/v2/models/texts/infer", "/v2/models/nope/infer"):
        client.post(path, json=PIXELS)
    answer = client.get("/metrics")
    assert "# TYPE zhijian_requests_total counter" in answer.text
    assert "# EOF" not in answer.text  # the classic format, not OpenMetrics
    check_with_promtool(answer.text)

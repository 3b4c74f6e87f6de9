"""The built-in dashboard, in-process: the data document from known metric values, the traffic
split, ``/dashboard/data`` of a gateway after real requests, the page's self-containment and its
Content-Security-Policy, and that both routes stay out of the request metrics."""

from __future__ import annotations

import base64
import hashlib
import math
import os
import re
import time
import tomllib
from fnmatch import fnmatch
from importlib import resources
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from services.gateway.dashboard import snapshot, traffic
from services.host import HostConfig
from services.metrics import Metrics
from services.routing import goes_to_canary
from tests.services.gateways import build_app
from tests.services.test_metrics import label_values, parse

ROOT = Path(__file__).resolve().parents[2]
PIXELS = {"inputs": [{"name": "pixel_values", "datatype": "FP32", "shape": [1, 3, 8, 8],
                      "data": np.linspace(0, 1, 192).tolist()}]}
INFER = "/v2/models/{model}/infer"


def test_traffic_split_by_alias() -> None:
    assert traffic({"production": 1}, None, 100.0) == {
        "serving": {"production": 1}, "split": {"production": 100}, "shadow": None, "error": None}
    both = traffic({"production": 1, "canary": 2, "shadow": 3}, 30, 25.0, "registry down")
    assert both["split"] == {"production": 70, "canary": 30}
    assert both["shadow"] == {"version": 3, "percent": 25.0} and both["error"] == "registry down"
    # a percent without a canary alias, or a canary without a percent, routes nothing to it
    assert traffic({"production": 1}, 40, 100.0)["split"] == {"production": 100}
    assert traffic({"production": 1, "canary": 2}, None, 100.0)["split"] == {"production": 100}
    assert traffic({}, None, 100.0)["split"] == {}


def test_snapshot_sums_known_values_by_model_and_version() -> None:
    m = Metrics(CollectorRegistry())
    m.requests.labels("images", "1", INFER, "200").inc(7)
    m.requests.labels("images", "1", "/v1/models/{model}:predict", "200").inc(3)
    m.requests.labels("images", "", INFER, "400").inc(2)
    m.requests.labels("", "", INFER, "404").inc(5)  # names no served model: in no row
    m.request_errors.labels("images", "", INFER, "400").inc(2)
    m.request_errors.labels("", "", INFER, "404").inc(5)
    for seconds in (0.0004, 0.004, 0.004, 0.2):
        m.request_duration.labels("images", "1", INFER).observe(seconds)
    m.request_duration.labels("images", "1", "/v1/models/{model}:predict").observe(20.0)
    m.inferences.labels("images", "1", "success").inc(10)
    m.inferences.labels("images", "1", "failure").inc(1)
    m.inferences.labels("images", "2", "success").inc(4)
    m.cost.labels("images", "1", "cpu", "usage").inc(0.25)
    m.cost.labels("images", "1", "gpu", "usage").inc(0.5)
    m.cost.labels("images", "1", "cpu", "allocation").inc(2.0)
    m.cost.labels("images", "2", "cpu", "allocation").inc(1.0)
    served = {"images": traffic({"production": 1, "canary": 2}, 10, 100.0),
              "texts": traffic({"production": 4}, None, 100.0)}
    document = snapshot(m.registry.collect(), served, now=1234.5)

    assert document["time"] == 1234.5
    bounds = document["latency_bounds"]
    assert bounds[0] == 0.0005 and bounds[-1] == 10.0 and bounds == sorted(bounds)
    assert [(s["model"], s["version"]) for s in document["series"]] == [
        ("images", "1"), ("images", "2"), ("images", "")]
    v1, v2, none = document["series"]
    assert v1["requests"] == 10 and v1["latency_count"] == 5
    assert v1["latency_sum"] == pytest.approx(0.0004 + 0.004 + 0.004 + 0.2 + 20.0)
    buckets = v1["latency_buckets"]
    assert len(buckets) == len(bounds) + 1 and buckets[-1] == 5  # +Inf holds every observation
    assert buckets[bounds.index(0.0005)] == 1 and buckets[bounds.index(0.005)] == 3
    assert buckets[bounds.index(0.25)] == 4 and buckets[bounds.index(10.0)] == 4
    assert (v1["inferences"], v1["failures"]) == (10, 1)
    assert (v1["cost_usage"], v1["cost_allocation"]) == (0.75, 2.0)  # cpu + gpu
    assert (v2["requests"], v2["inferences"], v2["cost_usage"], v2["cost_allocation"]) == (
        0, 4, 0, 1.0)
    assert v2["latency_buckets"] == [0.0] * (len(bounds) + 1)
    assert (none["requests"], none["latency_count"]) == (2, 0)
    models = {entry["model"]: entry for entry in document["models"]}
    assert set(models) == {"images", "texts"}
    assert (models["images"]["requests"], models["images"]["errors"]) == (12, 2)
    assert models["images"]["split"] == {"production": 90, "canary": 10}
    assert (models["texts"]["requests"], models["texts"]["errors"]) == (0, 0)


@pytest.fixture
def client(versions: dict) -> Iterator[TestClient]:
    # The in-process hosts' "replica" is this whole test process, whose CPU time (client, gateway
    # and hosts together) the meter counts as usage: holding every core, its allocation (wall time
    # x CPUs held) bounds that usage, whatever else the process did in the interval.
    app = build_app(versions, {"images": {"production": 1, "canary": 2, "shadow": 3},
                               "texts": {"production": 1}}, percents={"images": 30},
                    host_config=HostConfig(cpus=os.cpu_count() or 1), shadow_percent=50.0)
    with TestClient(app) as client:
        yield client


def _rows(document: dict) -> dict[tuple[str, str], dict]:
    return {(s["model"], s["version"]): s for s in document["series"]}


def test_data_of_a_gateway_after_requests(client: TestClient) -> None:
    before = client.get("/dashboard/data").json()  # the process's metrics hold earlier tests' too
    keys = [f"user-{i}" for i in range(40)]
    for key in keys:
        answer = client.post(INFER.format(model="images"), json=PIXELS,
                             headers={"X-Zhijian-Route-Key": key})
        assert answer.status_code == 200
    assert client.post(INFER.format(model="images"), json={"inputs": []}).status_code == 400
    client.app.app.state.gateway.fleet.hosts["images"].meter.tick()  # cost up to now
    answer = client.get("/dashboard/data")
    assert answer.status_code == 200 and answer.headers["cache-control"] == "no-store"
    after = answer.json()

    assert after["time"] == pytest.approx(time.time(), abs=5)
    canary = sum(goes_to_canary(key, 30) for key in keys)
    old, new = _rows(before), _rows(after)

    def delta(version: str, field: str) -> float:
        return new[("images", version)][field] - old.get(("images", version), {}).get(field, 0)

    assert 0 < canary < len(keys)
    assert delta("1", "requests") == delta("1", "latency_count") == len(keys) - canary
    assert delta("2", "requests") == delta("2", "latency_count") == canary
    assert delta("1", "inferences") == len(keys) - canary and delta("2", "inferences") == canary
    assert delta("", "requests") == 1  # the bad request: answered by no version
    for version in ("1", "2"):
        row = new[("images", version)]
        assert row["latency_buckets"][-1] == row["latency_count"]
        assert row["latency_buckets"] == sorted(row["latency_buckets"])  # cumulative
        assert row["cost_allocation"] >= row["cost_usage"] > 0
    models = {entry["model"]: entry for entry in after["models"]}
    assert models["images"]["serving"] == {"production": 1, "canary": 2, "shadow": 3}
    assert models["images"]["split"] == {"production": 70, "canary": 30}
    assert models["images"]["shadow"] == {"version": 3, "percent": 50.0}
    assert models["texts"]["split"] == {"production": 100} and models["texts"]["shadow"] is None
    old_models = {entry["model"]: entry for entry in before["models"]}
    assert models["images"]["errors"] - old_models["images"]["errors"] == 1
    assert all(math.isfinite(b) for b in after["latency_bounds"])


def test_dashboard_routes_are_not_request_metrics(client: TestClient) -> None:
    for _ in range(3):
        assert client.get("/dashboard").status_code == 200
        assert client.get("/dashboard/data").status_code == 200
    samples = parse(client.get("/metrics").text)
    assert not {"/dashboard", "/dashboard/data", "/metrics"} & label_values(samples, "route")
    paths = client.get("/openapi.json").json()["paths"]
    assert "/dashboard" not in paths and "/dashboard/data" not in paths
    answer = client.post("/dashboard/data")
    assert answer.status_code == 405 and "error" in answer.json()


def _digest(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()


def test_the_page_is_self_contained(client: TestClient) -> None:
    answer = client.get("/dashboard")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/html")
    html = answer.text
    assert "/*DASHBOARD_JS*/" not in html and "window.ZhijianDashboard" in html
    for tag in ("script", "style"):
        assert html.count(f"<{tag}") == 1, tag
    # nothing loaded from anywhere: no src or href but the empty icon, no CSS import, no URL
    assert re.findall(r"""\b(?:src|href)\s*=\s*["']([^"']*)""", html) == ["data:,"]
    assert "@import" not in html and not re.search(r"https?://(?!www\.w3\.org/2000/svg)", html)
    policy = dict(part.strip().split(" ", 1) for part in
                  answer.headers["content-security-policy"].split(";"))
    script = html[html.index("<script>") + 8:html.index("</script>")]
    style = html[html.index("<style>") + 7:html.index("</style>")]
    assert policy["default-src"] == "'none'" and policy["connect-src"] == "'self'"
    assert policy["script-src"] == f"'{_digest(script)}'"
    assert policy["style-src"] == f"'{_digest(style)}'"
    assert "fetch(new URL(\"dashboard/data\"" in script  # relative: works under a route prefix


def test_the_static_files_are_package_data() -> None:
    """A wheel (the Docker image installs one) carries the page: pyproject names the files."""
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"]["services.gateway"]
    static = resources.files("services.gateway") / "static"
    names = sorted(f"static/{entry.name}" for entry in static.iterdir())
    assert names == ["static/dashboard.html", "static/dashboard.js"]
    assert all(any(fnmatch(name, pattern) for pattern in declared) for name in names)

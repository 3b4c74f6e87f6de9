"""The built-in dashboard in a real headless Chromium (Debian's ``chromium``, driven over the
DevTools pipe by :mod:`tests.services.chromium`).

- the page's own arithmetic (``dashboard.js``: Prometheus' ``histogram_quantile``, rates, ratios,
  cost per 1,000 inferences, counter resets) against hand-computed values;
- the page served by the Ray Serve application on the shared cluster under load (production and a
  30% canary): after a few polls every chart holds data points for both versions, the traffic split
  shows the canary's percent, the page logged no error (a Content-Security-Policy violation would be
  one), and a screenshot is a 1280x900 PNG.
"""

from __future__ import annotations

import json
import struct
import threading
import urllib.error
import urllib.request
from html.parser import HTMLParser
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

from services.serve.builder import build_app
from services.serve.config import ServeArgs
from tests.services.bundles import make_image_bundle
from tests.services.chromium import Browser, chromium_or_skip

MODEL = "e2e-dashboard"
CANARY_PERCENT = 30
CHARTS = ("latency", "throughput", "errors", "cost_rate", "cost_per_1k")
PIXELS = json.dumps({"inputs": [{"name": "pixel_values", "datatype": "FP32",
                                 "shape": [1, 3, 8, 8],
                                 "data": np.linspace(0, 1, 192).tolist()}]}).encode()

# Two polls of /dashboard/data 10 s apart: 20 requests answered by version 1 (one of them a failed
# inference), 16 latencies in (0.01, 0.1], 20 in all; 5 more answers of the model, 1 an error.
BASE = {"time": 100.0, "latency_bounds": [0.01, 0.1],
        "models": [{"model": "m", "requests": 10, "errors": 1}],
        "series": [{"model": "m", "version": "1", "requests": 10, "latency_buckets": [5, 9, 10],
                    "latency_sum": 0.2, "latency_count": 10, "inferences": 10, "failures": 0,
                    "cost_usage": 0.001, "cost_allocation": 0.004},
                   {"model": "m", "version": "2", "requests": 50, "latency_buckets": [50, 50, 50],
                    "latency_sum": 0.1, "latency_count": 50, "inferences": 50, "failures": 0,
                    "cost_usage": 0.5, "cost_allocation": 0.5}]}
CURRENT = {"time": 110.0, "latency_bounds": [0.01, 0.1],
           "models": [{"model": "m", "requests": 31, "errors": 2}],
           "series": [{"model": "m", "version": "1", "requests": 30, "latency_buckets": [5, 25, 30],
                       "latency_sum": 1.0, "latency_count": 30, "inferences": 29, "failures": 1,
                       "cost_usage": 0.0012, "cost_allocation": 0.005},
                      # version 2's counters fell: its replica restarted (a counter reset)
                      {"model": "m", "version": "2", "requests": 4, "latency_buckets": [0, 4, 4],
                       "latency_sum": 0.1, "latency_count": 4, "inferences": 4, "failures": 0,
                       "cost_usage": 0.0001, "cost_allocation": 0.0002}]}


@pytest.fixture(scope="session")
def chromium() -> str:
    """The Chromium binary, checked before the shared Ray cluster starts (same scope, listed
    first): a skip costs no cluster start."""
    return chromium_or_skip()


def test_the_page_computes_like_prometheus(chromium: str) -> None:
    script = (resources.files("services.gateway") / "static" / "dashboard.js").read_text()
    with Browser(chromium) as browser:
        browser.open("about:blank")  # no #charts here: the script defines, but does not poll
        browser.evaluate(script)
        got = browser.evaluate(f"""(() => {{
            const D = window.ZhijianDashboard;
            return {{
              q: [D.quantile(0.5, [1, 2, 4], [2, 6, 8, 10]),
                  D.quantile(0.1, [1, 2, 4], [2, 6, 8, 10]),
                  D.quantile(0.95, [1, 2, 4], [2, 6, 8, 10]), D.quantile(0.5, [1], [0, 0]),
                  D.quantile(0.5, [1, 2], [0, 4, 4])],
              window: D.windowStats({json.dumps(BASE)}, {json.dumps(CURRENT)}),
              polls: D.state.polls}};
        }})()""")
        assert browser.problems() == []
    # histogram_quantile: rank 5 in (1, 2] holding counts 3..6 -> 1 + 1 * 3/4; rank 1 in (0, 1];
    # rank 9.5 in +Inf -> the highest finite bound; no observations -> none
    assert got["q"] == [1.75, 0.5, 4, None, 1.5]
    v1 = got["window"]["series"]["m/1"]
    assert v1["rps"] == pytest.approx(2.0)  # 20 requests in 10 s
    assert v1["ips"] == pytest.approx(2.0)  # 19 inferences and 1 failure in 10 s
    assert v1["p50"] == pytest.approx(0.01 + 0.09 * 10 / 16)  # rank 10 of 20, 16 in (0.01, 0.1]
    assert v1["p95"] == pytest.approx(0.1)  # rank 19 lies in +Inf
    assert v1["failure_ratio"] == pytest.approx(1 / 20)
    assert v1["usage_per_hour"] == pytest.approx(0.0002 / 10 * 3600)
    assert v1["allocation_per_hour"] == pytest.approx(0.001 / 10 * 3600)
    assert v1["usage_per_1k"] == pytest.approx(1000 * 0.0002 / 19)
    assert v1["allocation_per_1k"] == pytest.approx(1000 * 0.001 / 19)
    v2 = got["window"]["series"]["m/2"]  # after the reset the current values are the increase
    assert v2["rps"] == pytest.approx(0.4) and v2["usage_per_hour"] == pytest.approx(0.0001 * 360)
    assert v2["p50"] == pytest.approx(0.01 + 0.09 * 2 / 4)
    model = got["window"]["models"]["m"]
    assert model["rps"] == pytest.approx(2.1) and model["error_ratio"] == pytest.approx(1 / 21)
    assert got["polls"] == 0


class _Dom(HTMLParser):
    """The charts, lines and traffic splits of a dumped dashboard."""

    def __init__(self) -> None:
        super().__init__()
        self.charts: dict[str, int] = {}
        self.lines: dict[str, set[tuple[str, str]]] = {}
        self.splits: dict[str, dict[str, str]] = {}
        self.split_text: dict[str, str] = {}
        self._chart: str | None = None
        self._split: str | None = None
        self._depth = 0  # open divs inside the current split

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "svg" and "data-chart" in a:
            self._chart = a["data-chart"]
            self.charts[self._chart] = int(a.get("data-points", "0"))
            self.lines[self._chart] = set()
        elif tag in ("polyline", "circle") and self._chart is not None:
            self.lines[self._chart].add((a["data-series"], a["data-stat"]))
        elif tag == "div" and self._split is not None:
            self._depth += 1
        elif tag == "div" and "split" in a.get("class", "").split():
            self._split, self._depth = a["data-model"], 1
            self.splits[self._split] = a
            self.split_text[self._split] = ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "svg":
            self._chart = None
        elif tag == "div" and self._split is not None:
            self._depth -= 1
            if self._depth == 0:
                self._split = None

    def handle_data(self, data: str) -> None:
        if self._split is not None:
            self.split_text[self._split] += data


def _load(url: str, stop: threading.Event, statuses: list[int]) -> None:
    key = 0
    while not stop.is_set():
        key += 1
        request = urllib.request.Request(f"{url}/v2/models/{MODEL}/infer", data=PIXELS,
                                         method="POST",
                                         headers={"Content-Type": "application/json",
                                                  "X-Zhijian-Route-Key": f"user-{key}"})
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                answer.read()
                statuses.append(answer.status)
        except urllib.error.HTTPError as exc:
            statuses.append(exc.code)


@pytest.mark.e2e
@pytest.mark.timeout(240)
def test_dashboard_charts_fill_under_load_on_ray(chromium: str, ray_serve,
                                                 monkeypatch: pytest.MonkeyPatch,
                                                 tmp_path: Path) -> None:
    from zhijian_core.registry import Registry, promote

    ray_serve.use(monkeypatch)
    registry = Registry()
    for version in (1, 2):
        registry.register(make_image_bundle(tmp_path / f"b{version}", name=MODEL, seed=version),
                          MODEL)
    promote(registry, MODEL, 1, "production", actor="e2e")
    promote(registry, MODEL, 2, "canary", percent=CANARY_PERCENT, actor="e2e")
    ray_serve.run(build_app(ServeArgs(models=[MODEL], host_num_cpus=0.25, gateway_num_cpus=0.1,
                                      gateway={"poll_interval_s": 1})))
    url = ray_serve.url
    stop, statuses = threading.Event(), []
    loader = threading.Thread(target=_load, args=(url, stop, statuses), daemon=True)
    loader.start()
    try:
        with Browser(chromium, width=1280, height=900) as browser:
            browser.open(f"{url}/dashboard")
            # 2 s apart; the page draws from its second poll on, so 6 polls are 5 points a line
            browser.wait_for("Number(document.getElementById('status').dataset.polls) >= 6",
                             timeout_s=60)
            dom = _Dom()
            dom.feed(browser.evaluate("document.documentElement.outerHTML"))
            png = browser.screenshot()
            (tmp_path / "dashboard.png").write_bytes(png)
            problems = browser.problems()
    finally:
        stop.set()
        loader.join(60)
    assert statuses and set(statuses) == {200}, sorted(set(statuses))
    assert problems == []
    versions = {f"{MODEL}/1", f"{MODEL}/2"}
    assert set(dom.charts) == set(CHARTS)
    for chart in CHARTS:
        assert dom.charts[chart] >= 5, (chart, dom.charts)
    assert {s for s, stat in dom.lines["latency"] if stat == "p95"} >= versions
    assert {s for s, stat in dom.lines["latency"] if stat == "p50"} >= versions
    assert {s for s, _ in dom.lines["throughput"]} >= versions
    assert {s for s, stat in dom.lines["errors"] if stat == "failure_ratio"} >= versions
    assert (MODEL, "error_ratio") in dom.lines["errors"]
    for chart in ("cost_rate", "cost_per_1k"):
        assert {s for s, stat in dom.lines[chart] if stat.startswith("allocation")} >= versions
        assert {s for s, stat in dom.lines[chart] if stat.startswith("usage")} >= versions
    split = dom.splits[MODEL]
    assert (split["data-production"], split["data-canary"]) == (str(100 - CANARY_PERCENT),
                                                                str(CANARY_PERCENT))
    assert f"canary v2 · {CANARY_PERCENT}%" in dom.split_text[MODEL]
    assert f"production v1 · {100 - CANARY_PERCENT}%" in dom.split_text[MODEL]
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000
    assert struct.unpack(">II", png[16:24]) == (1280, 900)  # IHDR: width, height

"""A real Prometheus (Debian's 2.42, the session's ``prometheus`` fixture) scraping the service on
the shared Ray every second while it serves a production version, a canary, a shadow and an
unaliased version under load, good and bad requests mixed (see :mod:`tests.e2e_prometheus.load`).

After the load: the target is up and ``promtool check metrics`` finds no problem in ``/metrics``;
every recording rule of ``deploy/prometheus/rules`` returns series for the model; the recorded
cost per 1,000 inferences equals the same arithmetic done in Python over the raw counters read from
the same Prometheus at the rule's own evaluation time; every panel query of every Grafana dashboard
returns series; every rule, alerts included, is loaded and healthy.
"""

from __future__ import annotations

import math
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e_prometheus import cost
from tests.e2e_prometheus.increase import increase
from tests.e2e_prometheus.load import (MODEL, MOVED_SHADOW, burst, move_shadow, register,
                                       serve_args, steady)
from tests.e2e_prometheus.rules import alert_names, recording_rules, rules
from tests.e2e_prometheus.server import JOB, PrometheusServer
from tests.services.test_metrics import check_with_promtool

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

REPOSITORY = Path(__file__).resolve().parents[2]
DASHBOARDS = REPOSITORY / "deploy" / "grafana" / "dashboards"

EXPECTED_EMPTY: dict[str, str] = {}
"""Recording rules that may return no series for the model after this load, each with the reason
(a condition the load cannot create). Empty: the load creates everything every rule needs."""

@dataclass(frozen=True)
class Loaded:
    """What the load sent (status -> count), where the service answers, and when (Unix seconds)
    Prometheus had seen the release event after the load."""

    url: str
    codes: Counter[int]
    released_at: float


@pytest.fixture(scope="module")
def service(ray_serve, prometheus: PrometheusServer,
            tmp_path_factory: pytest.TempPathFactory) -> Loaded:
    """Deploy the model on the shared Ray, load it, and wait until Prometheus scraped all of it."""
    from services.serve.builder import build_app

    with pytest.MonkeyPatch.context() as patch:
        ray_serve.use(patch)
        register(tmp_path_factory.mktemp("prometheus-bundles"))
        ray_serve.run(build_app(serve_args()))
    url = ray_serve.url
    codes = steady(url, rounds=8) + burst(url)
    assert {200, 400, 404, 429} <= set(codes), codes
    with pytest.MonkeyPatch.context() as patch:  # a release event for the releases dashboard
        ray_serve.use(patch)
        move_shadow()
    sent = sum(codes.values())
    prometheus.wait_for(f'sum(zhijian_requests_total{{model="{MODEL}"}})',
                        lambda answer: bool(answer) and answer[0][1] >= sent, timeout=30)
    prometheus.wait_for(f'zhijian_alias_version{{model="{MODEL}", alias="shadow"}}',
                        lambda answer: [value for _, value in answer] == [MOVED_SHADOW], timeout=30)
    return Loaded(url=url, codes=codes, released_at=time.time())


def test_the_target_is_up_and_promtool_finds_no_problem_in_the_exposition(
        service: Loaded, prometheus: PrometheusServer) -> None:
    # one target, up (waited for: a scrape of a machine busy with other tests may time out)
    prometheus.wait_for(f'up{{job="{JOB}"}}', lambda answer: [v for _, v in answer] == [1.0])
    target, = prometheus.api("targets")["activeTargets"]
    assert target["scrapeUrl"] == f"{service.url}/metrics"
    with urllib.request.urlopen(f"{service.url}/metrics", timeout=30) as answer:
        check_with_promtool(answer.read().decode())  # fails under CI without promtool


def await_series(prometheus: PrometheusServer, exprs: list[str],
                 timeout: float = 30.0) -> list[str]:
    """Query each of ``exprs`` until it returns a series (rules and windows fill within seconds
    of the load); those still empty after ``timeout``."""
    pending = list(dict.fromkeys(exprs))
    deadline = time.monotonic() + timeout
    while True:
        pending = [expr for expr in pending if not prometheus.query(expr)]
        if not pending or time.monotonic() >= deadline:
            return pending
        time.sleep(0.5)


def test_every_recording_rule_returns_series_for_the_model(
        service: Loaded, prometheus: PrometheusServer) -> None:
    names = [rule.name for rule in recording_rules()]
    assert names, "deploy/prometheus/rules holds no recording rule"
    assert set(EXPECTED_EMPTY) <= set(names), set(EXPECTED_EMPTY) - set(names)
    exprs = [f'{name}{{model="{MODEL}"}}' for name in names if name not in EXPECTED_EMPTY]
    assert not await_series(prometheus, exprs), f"recording rules without a series for {MODEL}"
    # the cost rules price every version that served, on both bases
    versions = {(labels["version"], labels["basis"])
                for labels, _ in prometheus.query(f'{cost.RULE}{{model="{MODEL}"}}')}
    # (v1 production, v2 canary and shadow, v4 by name; v3 becomes the shadow only after the load)
    assert versions >= {(v, b) for v in "124" for b in ("usage", "allocation")}, versions


def test_the_cost_per_1k_rule_equals_python_over_the_raw_counters(
        service: Loaded, prometheus: PrometheusServer) -> None:
    rule, = [rule for rule in recording_rules() if rule.name == cost.RULE]
    window, range_ms = cost.window_of(rule.expr)
    recorded_selector = f'{cost.RULE}{{model="{MODEL}"}}'
    stamps = prometheus.wait_for(  # one evaluation's 6 series: 3 versions that served, 2 bases
        f"timestamp({recorded_selector})",
        lambda answer: len(answer) >= 6 and len({value for _, value in answer}) == 1)
    at_ms = round(stamps[0][1] * 1000)  # the rule's own evaluation time
    at = at_ms / 1000
    recorded = {(labels["version"], labels["basis"]): value
                for labels, value in prometheus.query(recorded_selector, at=at)}
    dollars = f'zhijian_cost_dollars_total{{model="{MODEL}"}}'
    successes = f'zhijian_inferences_total{{model="{MODEL}", outcome="success"}}'
    spent = cost.raw(prometheus, dollars, window, at_ms)
    answered = cost.raw(prometheus, successes, window, at_ms)
    # the Python increase() is Prometheus' own, series by series, on the same samples
    for selector, series in ((dollars, spent), (successes, answered)):
        engine = {frozenset(labels.items()): value for labels, value
                  in prometheus.query(f"increase({selector}[{window}])", at=at)}
        mine = {frozenset((k, v) for k, v in labels.items() if k != "__name__"):
                increase(samples, at_ms, range_ms) for labels, samples in series
                if increase(samples, at_ms, range_ms) is not None}
        assert engine.keys() == mine.keys()
        assert all(engine[k] == pytest.approx(mine[k], rel=1e-9, abs=1e-15) for k in engine)

    expected = [cost.per_1k(spent, answered, at_ms, range_ms)]
    newest = max(t for _, samples in spent + answered for t, _ in samples)
    if cost.unseen_scrape(prometheus, JOB, window, at_ms, newest):
        expected.append(cost.per_1k(spent, answered, at_ms, range_ms, before_ms=newest))

    def equal(computed: dict) -> bool:
        return computed.keys() == recorded.keys() and all(
            recorded[k] == pytest.approx(computed[k], rel=1e-6) for k in recorded)

    assert any(equal(computed) for computed in expected), (recorded, expected)
    assert all(value > 0 and math.isfinite(value) for value in recorded.values()), recorded


def test_every_dashboard_panel_query_returns_series(service: Loaded,
                                                    prometheus: PrometheusServer) -> None:
    from tests.deploy.dashboards import annotation_queries, panel_queries

    paths = sorted(DASHBOARDS.glob("*.json"))
    assert paths, f"no dashboard in {DASHBOARDS}"
    model = {"model": MODEL}  # this model's series, not whatever other tests left behind
    panels = [expr for path in paths for expr in panel_queries(path, model)]
    events = [expr for path in paths for expr in annotation_queries(path, model)]
    assert panels
    empty = await_series(prometheus, panels)
    assert not empty, f"panel queries without a series: {empty}"
    # annotations mark events: evaluated when the release event after the load had been seen
    quiet = [expr for expr in events if not prometheus.query(expr, at=service.released_at)]
    assert not quiet, f"annotation queries that missed the release event: {quiet}"


def test_every_rule_is_loaded_and_evaluates_without_error(
        service: Loaded, prometheus: PrometheusServer) -> None:
    def loaded() -> dict[tuple[str, str], list[dict]]:
        found: dict[tuple[str, str], list[dict]] = {}
        for group in prometheus.api("rules")["groups"]:
            for rule in group["rules"]:
                found.setdefault((rule["type"], rule["name"]), []).append(rule)
        return found

    shipped = {("alerting" if rule.alert else "recording", rule.name) for rule in rules()}
    assert alert_names(), "deploy/prometheus/rules holds no alert"
    deadline = time.monotonic() + 15
    while any(r["health"] == "unknown" for rs in loaded().values() for r in rs) \
            and time.monotonic() < deadline:
        time.sleep(0.5)  # not evaluated yet
    found = loaded()
    assert set(found) == shipped
    unhealthy = [(key, r["health"], r.get("lastError")) for key, rs in found.items() for r in rs
                 if r["health"] != "ok"]
    assert not unhealthy
    # a fifth of the load's answers are errors (400, 404, 429): the error-spike alert is active
    alerts = prometheus.api("alerts")["alerts"]
    assert any(a["labels"].get("alertname") == "ZhijianErrorSpike"
               and a["labels"].get("model") == MODEL and a["state"] in ("pending", "firing")
               for a in alerts), alerts

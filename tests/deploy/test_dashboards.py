"""The Grafana dashboards of ``deploy/grafana/dashboards``: valid JSON with the structure Grafana
provisions, the Prometheus data source ``prometheus`` everywhere, the ``model`` variable, a PromQL
target on every panel that promtool parses and whose every series name exists (the catalog, the
release metrics, or a recording rule: a typo fails), no hard-coded instance, unique uids, and the
panels each dashboard promises."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

import pytest

from tests.deploy.dashboards import DASHBOARDS, annotation_queries, panel_queries, panels
from tests.deploy.promql import check_syntax, exported_names, metric_names, recorded_names

DATASOURCE = {"type": "prometheus", "uid": "prometheus"}
SCHEMA_VERSION = 41
"""Grafana 12's dashboard schema (deploy/compose.yaml runs Grafana 12.2)."""
MODEL_QUERY = "label_values(zhijian_requests_total, model)"
FILES = ("cost.json", "overview.json", "releases.json")
PROMISED = {
    "overview.json": {"model_version:zhijian_requests:rate5m",
                      "model_version:zhijian_request_errors:ratio_rate5m",
                      "model_version:zhijian_request_failures:ratio_rate5m",
                      "model_version:zhijian_request_duration_seconds:quantile_rate5m",
                      "model_version:zhijian_batch_size:mean_rate5m",
                      "zhijian_stage_duration_seconds_bucket",
                      "zhijian_admission_rejections_total", "zhijian_requests_in_flight",
                      "zhijian_replicas"},
    "cost.json": {"model_version_basis:zhijian_cost_dollars_per_1k_inferences:ratio_rate5m",
                  "model_basis:zhijian_cost_dollars_per_day:rate1h",
                  "model_version_basis:zhijian_cost_dollars:rate5m",
                  "model_version_device:zhijian_cost_idle_dollars:rate5m",
                  "model_basis:zhijian_cost_dollars_per_month:rate1d",
                  "zhijian_price_dollars_per_hour"},
    "releases.json": {"zhijian_traffic_percent", "model_version:zhijian_requests:rate5m",
                      "zhijian_canary_observed", "zhijian_alias_version",
                      "model_version:zhijian_shadow_agreement_ratio:mean_rate5m",
                      "zhijian_canary_decisions_total"},
}
"""Series each dashboard must show (issue 6: overview, cost, releases)."""
WITHOUT_MODEL = {"zhijian_price_dollars_per_hour"}
"""Series without a ``model`` label: a query reading only these need not filter by ``$model``."""


def load(name: str) -> dict[str, Any]:
    return json.loads((DASHBOARDS / name).read_text())


def datasources(node: Any) -> Iterator[Any]:
    """Every value of a ``datasource`` key anywhere in ``node``."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "datasource":
                yield value
            yield from datasources(value)
    elif isinstance(node, list):
        for item in node:
            yield from datasources(item)


def test_the_shipped_dashboards() -> None:
    assert tuple(sorted(p.name for p in DASHBOARDS.glob("*.json"))) == FILES
    uids = [load(name)["uid"] for name in FILES]
    assert len(set(uids)) == len(uids) and all(uid.startswith("zhijian-") for uid in uids)
    titles = [load(name)["title"] for name in FILES]
    assert len(set(titles)) == len(titles)


@pytest.mark.parametrize("name", FILES)
def test_the_dashboard_structure(name: str) -> None:
    dashboard = load(name)
    assert dashboard["schemaVersion"] == SCHEMA_VERSION
    assert dashboard["uid"] and dashboard["title"] and "zhijian" in dashboard["tags"]
    assert "id" not in dashboard or dashboard["id"] is None  # provisioned: Grafana assigns it
    assert dashboard["time"]["from"].startswith("now-")
    (variable,) = dashboard["templating"]["list"]
    assert variable["name"] == "model" and variable["type"] == "query"
    assert variable["definition"] == variable["query"]["query"] == MODEL_QUERY
    assert variable["includeAll"] and variable["multi"] and variable["allValue"] == ".*"
    found = list(panels(dashboard))
    assert found
    ids = [panel["id"] for panel in found]
    assert len(set(ids)) == len(ids)
    taken: set[tuple[int, int]] = set()
    for panel in found:
        assert panel["type"] in ("timeseries", "stat", "bargauge", "table"), panel["title"]
        assert panel["title"] and panel["description"], panel["id"]
        targets = panel["targets"]
        assert targets and all(t["expr"].strip() for t in targets), panel["title"]
        assert len({t["refId"] for t in targets}) == len(targets), panel["title"]
        box = panel["gridPos"]
        assert box["x"] >= 0 and box["w"] > 0 and box["x"] + box["w"] <= 24, panel["title"]
        cells = {(x, y) for x in range(box["x"], box["x"] + box["w"])
                 for y in range(box["y"], box["y"] + box["h"])}
        assert not cells & taken, f"{panel['title']} overlaps another panel"
        taken |= cells


@pytest.mark.parametrize("name", FILES)
def test_every_datasource_is_the_prometheus_one(name: str) -> None:
    dashboard = load(name)
    found = list(datasources(dashboard))
    assert found and all(ds == DATASOURCE for ds in found), found
    for panel in panels(dashboard):
        assert panel["datasource"] == DATASOURCE
        assert all(t["datasource"] == DATASOURCE for t in panel["targets"]), panel["title"]


@pytest.mark.parametrize("name", FILES)
def test_every_series_a_query_reads_exists(name: str) -> None:
    known = exported_names() | recorded_names()
    queries = panel_queries(DASHBOARDS / name) + annotation_queries(DASHBOARDS / name)
    used: set[str] = set()
    for query in queries:
        names = metric_names(query)
        assert names, query
        assert not names - known, f"unknown series {names - known} in {query}"
        used |= names
    assert PROMISED[name] <= used, PROMISED[name] - used
    assert MODEL_QUERY.removeprefix("label_values(").split(",")[0] in known  # the variable's


@pytest.mark.parametrize("name", FILES)
def test_every_query_parses_and_filters_by_model_not_by_instance(name: str,
                                                                 tmp_path: Path) -> None:
    dashboard = load(name)
    raw = [t["expr"] for panel in panels(dashboard) for t in panel["targets"]]
    raw += [a["expr"] for a in dashboard["annotations"]["list"] if a.get("expr")]
    for expr in raw:
        assert "instance" not in expr and "job=" not in expr, expr
        assert "localhost" not in expr and "127.0.0.1" not in expr, expr
        if not metric_names(expr) <= WITHOUT_MODEL:
            assert "$model" in expr, f"does not follow the model variable: {expr}"
    expanded = panel_queries(DASHBOARDS / name) + annotation_queries(DASHBOARDS / name)
    assert len(expanded) == len(raw)
    assert not [q for q in expanded if "$" in q]
    check_syntax(expanded, tmp_path)


def test_panel_queries_expands_the_variables(tmp_path: Path) -> None:
    board = {"panels": [{"targets": [
        {"expr": 'rate(x{model=~"$model"}[$__rate_interval])'},
        {"expr": 'y{model=~"${model}", version="[[version]]"}'}]}]}
    (tmp_path / "d.json").write_text(json.dumps(board))
    assert panel_queries(tmp_path / "d.json") == ['rate(x{model=~".*"}[1m])',
                                                  'y{model=~".*", version=".*"}']
    assert panel_queries(tmp_path / "d.json", {"model": "sentiment"})[0] == \
        'rate(x{model=~"sentiment"}[1m])'

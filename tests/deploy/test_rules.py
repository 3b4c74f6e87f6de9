"""The Prometheus files of ``deploy/prometheus``: ``promtool check config`` on both scrape configs,
``promtool check rules`` and ``promtool test rules`` on the rule files, and by parsing: every rule
has a unit test (a recording rule an expected sample, an alert a firing and a quiet case), names
follow ``level:metric:operations``, every metric a rule reads exists, every alert is annotated,
and the latency threshold is a real histogram bucket."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

from services.gateway.middleware import INFERENCE_ROUTES
from tests.deploy.promql import (RULES, exported_names, metric_names, promtool, recorded_names,
                                 rule_groups)

PROMETHEUS = RULES.parent
UNIT_TESTS = PROMETHEUS / "tests"
LABEL_KEYS = {"model", "version", "route", "code", "device", "basis", "stage", "outcome",
              "deployment"}
"""The catalog's label keys (docs/metrics.md, Labels): the levels a recorded name may name."""
INPUTS = {"up", "zhijian_cost_budget_dollars_per_day"}
"""Series the rules read that the service does not export: Prometheus' own ``up``, and the
optional per-model budget an operator records (rules/recording.yaml)."""
OTHER_ROUTES = ("/v2/models/{model}", "/v2/models/{model}/ready", "/v2/health/ready",
                "/v2/models/{model}/versions/{version}/stats", "/admin/models/{model}/promote",
                "/v2/repository/models/{model}/load", "")
"""Route templates of the gateway (services/gateway/oip.py, predict.py, admin.py) with and
without inference; ``""`` is the label of a request that matched no route."""


def run(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([promtool(), *map(str, args)], capture_output=True, text=True,
                          timeout=120, cwd=cwd)


def rules() -> list[dict]:
    return [rule for group in rule_groups() for rule in group["rules"]]


def unit_tests() -> list[dict]:
    return [yaml.safe_load(path.read_text()) | {"path": path}
            for path in sorted(UNIT_TESTS.glob("*.yaml"))]


def test_the_rule_files_pass_promtool_check_rules() -> None:
    files = sorted(RULES.glob("*.yaml"))
    assert [f.name for f in files] == ["alerts.yaml", "recording.yaml"]
    result = run("check", "rules", *files)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "duplicate" not in (result.stdout + result.stderr).lower()


@pytest.mark.timeout(180)
def test_the_rule_unit_tests_pass() -> None:
    files = sorted(UNIT_TESTS.glob("*.yaml"))
    assert files
    result = run("test", "rules", *files)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS") == len(files), result.stdout


def test_the_unit_tests_load_the_shipped_rule_files() -> None:
    shipped = {path.resolve() for path in RULES.glob("*.yaml")}
    for test in unit_tests():
        loaded = {(test["path"].parent / name).resolve() for name in test["rule_files"]}
        assert loaded <= shipped and loaded, test["path"].name
    assert {(t["path"].parent / n).resolve() for t in unit_tests() for n in t["rule_files"]} \
        == shipped


def _sample_labels(text: str) -> tuple[str, dict[str, str]]:
    """``name{a="b", ...}`` as (name, labels)."""
    name, _, rest = text.partition("{")
    return name.strip(), dict(re.findall(r'(\w+)\s*=\s*"([^"]*)"', rest))


def test_every_recording_rule_has_a_unit_test_with_an_expected_sample() -> None:
    checked = [(test["path"].name, case) for test in unit_tests()
               for group in test["tests"] for case in group.get("promql_expr_test", [])]
    for rule in (r for r in rules() if "record" in r):
        static = rule.get("labels", {})
        hits = [name for name, case in checked if rule["record"] in metric_names(case["expr"])
                and any(_sample_labels(sample["labels"])[0] == rule["record"]
                        and static.items() <= _sample_labels(sample["labels"])[1].items()
                        for sample in case.get("exp_samples") or [])]
        assert hits, f"no promql_expr_test expects a sample of {rule['record']} {static}"


def test_every_alert_has_a_firing_and_a_quiet_unit_test() -> None:
    cases = [case for test in unit_tests() for group in test["tests"]
             for case in group.get("alert_rule_test", [])]
    for alert in (r["alert"] for r in rules() if "alert" in r):
        mine = [case for case in cases if case["alertname"] == alert]
        assert any(case.get("exp_alerts") for case in mine), f"{alert} is never tested firing"
        assert any(not case.get("exp_alerts") for case in mine), f"{alert} is never tested quiet"


def test_recorded_names_follow_level_metric_operations() -> None:
    for name in recorded_names():
        level, metric, operations = name.split(":")
        assert set(level.split("_")) <= LABEL_KEYS, name
        assert metric.startswith("zhijian_") and re.fullmatch(r"[a-z0-9_]+", operations), name


def test_every_series_a_rule_reads_exists() -> None:
    known = exported_names() | recorded_names() | INPUTS
    for rule in rules():
        unknown = metric_names(rule["expr"]) - known
        assert not unknown, f"{rule.get('record') or rule['alert']} reads unknown {unknown}"


def test_every_alert_has_a_severity_a_summary_and_a_description_with_a_runbook() -> None:
    alerts = [r for r in rules() if "alert" in r]
    assert len(alerts) >= 10
    for alert in alerts:
        assert re.fullmatch(r"Zhijian[A-Za-z]+", alert["alert"])
        assert alert["labels"]["severity"] in ("critical", "warning"), alert["alert"]
        notes = alert["annotations"]
        assert notes["summary"] and "Runbook:" in notes["description"], alert["alert"]
        assert set(notes) == {"summary", "description"}, alert["alert"]


def test_the_latency_threshold_is_a_bucket_of_the_histogram() -> None:
    from services.metrics.catalog import LATENCY_BUCKETS

    thresholds = {float(le) for rule in rules() for le in re.findall(r'le="([^"]+)"', rule["expr"])}
    assert thresholds == {0.25}
    assert thresholds <= set(LATENCY_BUCKETS)


def test_the_inference_route_matcher_selects_exactly_the_inference_routes() -> None:
    matchers = {m for rule in rules() for m in re.findall(r'route=~"([^"]+)"', rule["expr"])}
    (matcher,) = matchers
    pattern = re.compile(f"^(?:{matcher})$")  # PromQL regexes are anchored
    assert all(pattern.match(route) for route in INFERENCE_ROUTES)
    assert not any(pattern.match(route) for route in OTHER_ROUTES)


def test_the_single_machine_config_passes_promtool_and_scrapes_the_local_service() -> None:
    path = PROMETHEUS / "prometheus.yaml"
    result = run("check", "config", path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS: ") >= 2 + len(list(RULES.glob("*.yaml")))
    config = yaml.safe_load(path.read_text())
    assert config["rule_files"] == ["rules/*.yaml"]
    assert config["global"]["scrape_interval"] == "5s"
    (job,) = config["scrape_configs"]
    assert job["metrics_path"] == "/metrics"
    assert job["static_configs"] == [{"targets": ["127.0.0.1:8000"]}]


def test_the_kubernetes_config_passes_promtool_and_discovers_the_ray_pods(tmp_path: Path) -> None:
    """Debian's promtool is built without Kubernetes discovery: everything else of the file is
    checked by promtool with the discovery block swapped for a static target, the block itself
    here."""
    config = yaml.safe_load((PROMETHEUS / "kubernetes.yaml").read_text())
    (job,) = config["scrape_configs"]
    assert job.pop("kubernetes_sd_configs") == [{"role": "pod"}]
    job["static_configs"] = [{"targets": ["10.0.0.1:8000"]}]
    (tmp_path / "rules").symlink_to(RULES)
    (tmp_path / "kubernetes.yaml").write_text(yaml.safe_dump(config))
    result = run("check", "config", tmp_path / "kubernetes.yaml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 rule files found" in result.stdout
    keep = {tuple(r["source_labels"]): r["regex"] for r in job["relabel_configs"]
            if r.get("action") == "keep"}
    assert keep == {("__meta_kubernetes_pod_label_app_kubernetes_io_name",): "zhijian",
                    ("__meta_kubernetes_pod_container_port_name",): "serve"}
    assert job["metrics_path"] == "/metrics"

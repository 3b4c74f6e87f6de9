"""deploy/compose.yaml, checked without Docker: its structure, every path and name it refers to,
the inline Prometheus and Grafana provisioning, and no secret in the file."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
COMPOSE = DEPLOY / "compose.yaml"
SECRETS = ("ZHIJIAN_ADMIN_TOKEN", "POSTGRES_PASSWORD", "GF_SECURITY_ADMIN_PASSWORD")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def _bind_mounts(service: dict) -> list[tuple[str, str]]:
    mounts = []
    for volume in service.get("volumes", []):
        source, target, *_ = volume.split(":")
        mounts.append((source, target))
    return mounts


def test_the_single_host_set_up_has_its_services(compose: dict) -> None:
    assert {"zhijian", "mlflow", "postgres", "prometheus", "grafana"} <= set(compose["services"])
    for name, service in compose["services"].items():
        assert "image" in service or "build" in service, name
        for dependency in service.get("depends_on", {}):
            assert dependency in compose["services"], f"{name} depends on unknown {dependency}"
    assert compose["services"]["zhijian"]["environment"]["MLFLOW_TRACKING_URI"] == \
        "http://mlflow:5000"
    gpu = compose["services"]["zhijian-gpu"]
    assert gpu["build"]["args"]["ORT"] == "gpu" and gpu["profiles"] == ["gpu"]
    assert compose["services"]["zhijian"]["build"]["args"]["ORT"] == "cpu"


def test_every_referenced_path_and_name_exists(compose: dict) -> None:
    for name, service in compose["services"].items():
        build = service.get("build")
        if build is not None:
            context = (DEPLOY / build["context"]).resolve()
            assert context.is_dir(), f"{name}: no build context {context}"
            if "dockerfile_inline" not in build:
                assert (context / build["dockerfile"]).is_file(), f"{name}: no Dockerfile"
        for source, target in _bind_mounts(service):
            if source.startswith((".", "/")):
                assert (DEPLOY / source).is_dir(), f"{name}: mounts missing {source}"
            else:
                assert source in compose["volumes"], f"{name}: undeclared volume {source}"
        for config in service.get("configs", []):
            assert config["source"] in compose["configs"], f"{name}: unknown config"


def test_prometheus_loads_the_shipped_rules_and_scrapes_the_service(compose: dict) -> None:
    config = yaml.safe_load(compose["configs"]["prometheus-config"]["content"])
    mounts = dict((t, s) for s, t in _bind_mounts(compose["services"]["prometheus"]))
    (rules,) = config["rule_files"]
    folder, _, pattern = rules.rpartition("/")
    root = next(t for t in mounts if folder.startswith(t + "/"))
    assert (DEPLOY / mounts[root]).resolve() == DEPLOY / "prometheus"
    assert folder[len(root) + 1:] == "rules" and pattern == "*.yaml"
    (job,) = config["scrape_configs"]
    assert job["metrics_path"] == "/metrics"
    assert job["static_configs"][0]["targets"] == ["zhijian:8000"]


def test_the_compose_prometheus_config_loads_every_shipped_rule_file(compose: dict,
                                                                      tmp_path: Path) -> None:
    """promtool checks the inline config with the mounted folder read from the repository: the
    rule glob finds every file of deploy/prometheus/rules and each parses."""
    from tests.deploy.promql import promtool

    config = yaml.safe_load(compose["configs"]["prometheus-config"]["content"])
    mounts = dict((t, s) for s, t in _bind_mounts(compose["services"]["prometheus"]))
    (rules,) = config["rule_files"]
    root = next(t for t in mounts if rules.startswith(t + "/"))
    config["rule_files"] = [str((DEPLOY / mounts[root]).resolve()) + rules[len(root):]]
    (tmp_path / "compose.yml").write_text(yaml.safe_dump(config))
    result = subprocess.run([promtool(), "check", "config", str(tmp_path / "compose.yml")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    shipped = sorted((DEPLOY / "prometheus/rules").glob("*.yaml"))
    assert shipped and f"{len(shipped)} rule files found" in result.stdout
    for path in shipped:
        assert f"Checking {path}" in result.stdout


def test_grafana_is_provisioned_with_the_shipped_dashboards(compose: dict) -> None:
    sources = yaml.safe_load(compose["configs"]["grafana-datasources"]["content"])
    (source,) = sources["datasources"]
    assert source["url"] == "http://prometheus:9090" and source["uid"] == "prometheus"
    providers = yaml.safe_load(compose["configs"]["grafana-dashboards"]["content"])
    (provider,) = providers["providers"]
    mounts = dict((t, s) for s, t in _bind_mounts(compose["services"]["grafana"]))
    path = provider["options"]["path"]
    root = next(t for t in mounts if path.startswith(t + "/"))
    assert (DEPLOY / mounts[root]).resolve() / path[len(root) + 1:] == DEPLOY / "grafana/dashboards"
    assert sorted(p.name for p in (DEPLOY / "grafana/dashboards").glob("*.json")) == [
        "cost.json", "overview.json", "releases.json"]
    for folder in ("prometheus", "grafana"):
        assert (DEPLOY / folder / "README.md").is_file()


def test_no_secret_is_in_the_file() -> None:
    text = COMPOSE.read_text()
    for variable in re.findall(r"(?<!\$)\$\{([^}]+)\}", text):
        assert re.fullmatch(r"[A-Z_]+(:\?.+|:-[^}]*)", variable), \
            f"${{{variable}}} must be required (:?) or have a default (:-)"
    compose = yaml.safe_load(text)
    for service in compose["services"].values():
        for key, value in service.get("environment", {}).items():
            if key in SECRETS:
                assert str(value).startswith("${") and ":?" in str(value), \
                    f"{key} must come from the environment, required"

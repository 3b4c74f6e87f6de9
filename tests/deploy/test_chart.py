"""The Helm chart, rendered by the real Helm engine (helm-python-sdk, Helm's Go SDK in-process):
lint, every rendered RayService / PodMonitor / ServiceMonitor / PrometheusRule against the real CRD
schemas with unknown fields refused, the serveConfigV2 against our builder, secrets by reference
only, rules and dashboards as data, and values refused by the schema with the reason."""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.crd_validation import CrdSchemas, crd_folder
from tests.deploy.serve_documents import check_serve_document

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "zhijian"
GPU_VALUES = yaml.safe_load((CHART / "values-gpu.yaml").read_text())
SYNCED = (("deploy/prometheus/rules", "files/rules", "*.yaml"),
          ("deploy/grafana/dashboards", "files/dashboards", "*.json"))


@pytest.fixture(scope="module")
def helm():
    try:
        import helm_python
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("helm-python-sdk is not installed: it belongs to the dev extra")
        pytest.skip("helm-python-sdk is not installed (the dev extra)")
    return helm_python


@pytest.fixture(scope="module")
def crds() -> CrdSchemas:
    return CrdSchemas.load(crd_folder())


def render(helm, values: dict | None = None, chart: Path = CHART) -> list[dict[str, Any]]:
    """Every object the chart renders with ``values``."""
    manifests = helm.Chart.load(str(chart)).render(values, name="zhijian", namespace="serving")
    return [doc for path, text in sorted(manifests.items()) if path.endswith(".yaml")
            for doc in yaml.safe_load_all(text) if doc]


def one(objects: list[dict], kind: str) -> dict:
    (found,) = [o for o in objects if o["kind"] == kind]
    return found


def containers(rayservice: dict) -> list[dict]:
    cluster = rayservice["spec"]["rayClusterConfig"]
    pods = [cluster["headGroupSpec"]["template"]] + [g["template"]
                                                      for g in cluster["workerGroupSpecs"]]
    return [c for pod in pods for c in pod["spec"]["containers"]]


@pytest.mark.parametrize("values", [None, GPU_VALUES], ids=["default", "gpu"])
def test_rendered_objects_match_the_crd_schemas(helm, crds: CrdSchemas, values) -> None:
    objects = render(helm, values)
    kinds = [o["kind"] for o in objects]
    assert {"RayService", "PodMonitor", "Secret"} <= set(kinds)
    for document in objects:
        if document["kind"] in crds.kinds():
            assert crds.errors(document) == [], document["kind"]


@pytest.mark.parametrize("values", [None, GPU_VALUES], ids=["default", "gpu"])
def test_the_chart_lints_clean(helm, values) -> None:
    report = helm.lint(str(CHART), values, strict=True)
    assert report["errors"] == []
    assert [m for m in report["messages"] if m["severity"] >= 2] == []


def test_the_validator_refuses_a_misspelt_key(helm, crds: CrdSchemas) -> None:
    rayservice = one(render(helm), "RayService")
    broken = copy.deepcopy(rayservice)
    broken["spec"]["rayClusterConfig"]["headGroupSpec"]["templat"] = {}
    assert any("templat" in e for e in crds.errors(broken))
    broken = copy.deepcopy(rayservice)
    broken["spec"]["rayClusterConfig"]["workerGroupSpecs"][0]["maxReplicas"] = "4"
    assert any("maxReplicas" in e for e in crds.errors(broken))
    monitor = one(render(helm), "PodMonitor")
    monitor["spec"]["podMetricsEndpoints"][0]["intervall"] = "15s"
    assert any("intervall" in e for e in crds.errors(monitor))


@pytest.mark.parametrize("values", [None, GPU_VALUES], ids=["default", "gpu"])
def test_serve_config_v2_is_a_valid_config_of_our_builder(helm, values) -> None:
    rayservice = one(render(helm, values), "RayService")
    document = yaml.safe_load(rayservice["spec"]["serveConfigV2"])
    (args,) = check_serve_document(document)
    merged = helm.Chart.load(str(CHART)).merge_values(values)
    assert (args.models or []) == [m["name"] for m in merged["serve"]["models"]]
    assert document["http_options"]["port"] == merged["serve"]["port"]


def test_gpu_worker_groups_take_gpus_node_selectors_and_tolerations_from_values(helm) -> None:
    rayservice = one(render(helm, GPU_VALUES), "RayService")
    (group,) = rayservice["spec"]["rayClusterConfig"]["workerGroupSpecs"]
    (wanted,) = GPU_VALUES["ray"]["workerGroups"]
    pod = group["template"]["spec"]
    (container,) = pod["containers"]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == wanted["gpus"]
    assert pod["nodeSelector"] == wanted["nodeSelector"]
    assert pod["tolerations"] == wanted["tolerations"]
    assert (group["minReplicas"], group["maxReplicas"]) == (wanted["minReplicas"],
                                                            wanted["maxReplicas"])
    (args,) = check_serve_document(yaml.safe_load(rayservice["spec"]["serveConfigV2"]))
    assert args.host.device == "cuda" and args.host_num_gpus > 0
    capacity = sum(g["maxReplicas"] * g["gpus"] for g in GPU_VALUES["ray"]["workerGroups"])
    for model in GPU_VALUES["serve"]["models"]:
        assert model["maxReplicas"] * args.host_num_gpus <= capacity, model["name"]
    default = one(render(helm), "RayService")
    for container in containers(default):
        assert "nvidia.com/gpu" not in container["resources"].get("limits", {})


def test_secrets_reach_every_container_by_reference_only(helm) -> None:
    objects = render(helm, {"secrets": {"adminToken": "t" * 24}})
    secret = one(objects, "Secret")
    rayservice = one(objects, "RayService")
    for container in containers(rayservice):
        env = {e["name"]: e for e in container["env"]}
        for name, key in (("ZHIJIAN_ADMIN_TOKEN", "admin-token"),
                          ("MLFLOW_TRACKING_URI", "registry-uri")):
            assert env[name]["valueFrom"]["secretKeyRef"] == {"name": secret["metadata"]["name"],
                                                              "key": key}
    assert "t" * 24 not in yaml.safe_dump(rayservice)
    assert set(secret["data"]) == {"admin-token", "registry-uri"}

    objects = render(helm, {"secrets": {"existingSecret": "team-secrets"},
                            "ray": {"auth": {"secretName": "team-ray-token"}}})
    assert "Secret" not in [o["kind"] for o in objects]
    rayservice = one(objects, "RayService")
    assert rayservice["spec"]["rayClusterConfig"]["authOptions"] == {
        "mode": "token", "secretName": "team-ray-token"}
    for container in containers(rayservice):
        assert {e["valueFrom"]["secretKeyRef"]["name"] for e in container["env"]
                if "valueFrom" in e} == {"team-secrets"}


def test_the_price_table_and_device_kinds_reach_the_containers(helm) -> None:
    rayservice = one(render(helm, GPU_VALUES), "RayService")
    (group,) = GPU_VALUES["ray"]["workerGroups"]
    for container in containers(rayservice):
        env = {e["name"]: e.get("value") for e in container["env"]}
        assert json.loads(env["ZHIJIAN_PRICES"]) == GPU_VALUES["prices"]
        if container["name"] == "ray-worker":
            assert env["ZHIJIAN_GPU_KIND"] == group["gpuKind"]
            assert group["gpuKind"] in GPU_VALUES["prices"]["gpu"]
            assert "ZHIJIAN_CPU_KIND" not in env  # unset: the table's default kind
    for container in containers(one(render(helm), "RayService")):
        assert "ZHIJIAN_PRICES" not in {e["name"] for e in container["env"]}


def test_every_ray_container_runs_the_haproxy_ingress_unless_turned_off(helm) -> None:
    for values, expected in (({}, {"RAY_SERVE_ENABLE_HA_PROXY": "1"}),
                             ({"serve": {"haproxy": False}}, {})):
        for container in containers(one(render(helm, values), "RayService")):
            env = {e["name"]: e.get("value") for e in container["env"]}
            assert {k: v for k, v in env.items() if k == "RAY_SERVE_ENABLE_HA_PROXY"} == expected


def test_the_rest_service_and_ingress(helm) -> None:
    objects = render(helm, {"ingress": {"enabled": True, "host": "zhijian.example.com",
                                        "tlsSecretName": "zhijian-tls"}})
    rayservice = one(objects, "RayService")
    service = rayservice["spec"]["serveService"]
    ingress = one(objects, "Ingress")
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend["name"] == service["metadata"]["name"]
    assert backend["port"]["name"] == service["spec"]["ports"][0]["name"] == "serve"
    assert ingress["spec"]["tls"] == [{"secretName": "zhijian-tls",
                                       "hosts": ["zhijian.example.com"]}]
    assert "Ingress" not in [o["kind"] for o in render(helm)]


def test_the_pod_monitor_selects_the_ray_pods(helm) -> None:
    objects = render(helm, {"monitoring": {"podMonitor": {"labels": {"release": "kps"}}}})
    monitor = one(objects, "PodMonitor")
    assert monitor["metadata"]["labels"]["release"] == "kps"
    rayservice = one(objects, "RayService")
    cluster = rayservice["spec"]["rayClusterConfig"]
    for pod in [cluster["headGroupSpec"]["template"]] + [g["template"]
                                                          for g in cluster["workerGroupSpecs"]]:
        labels = pod["metadata"]["labels"]
        assert monitor["spec"]["selector"]["matchLabels"].items() <= labels.items()
        ports = {p["name"] for c in pod["spec"]["containers"] for p in c["ports"]}
        assert monitor["spec"]["podMetricsEndpoints"][0]["port"] in ports


RULES = """\
groups:
  - name: zhijian-test
    rules:
      - record: zhijian:requests:rate5m
        expr: sum by (model) (rate(zhijian_requests_total[5m]))
      - alert: ZhijianErrors
        expr: zhijian:errors:ratio5m > 0.05
        for: 5m
        labels: {severity: page}
        annotations:
          summary: "{{ $labels.model }} errors at {{ $value | humanizePercentage }}"
"""


def test_rules_and_dashboards_are_shipped_as_data(helm, crds: CrdSchemas, tmp_path: Path) -> None:
    chart = tmp_path / "zhijian"
    shutil.copytree(CHART, chart)
    for folder in ("files/rules", "files/dashboards"):  # the shipped files: replaced here
        shutil.rmtree(chart / folder, ignore_errors=True)
        (chart / folder).mkdir(parents=True)
    (chart / "files/rules/a.yaml").write_text(RULES)
    (chart / "files/rules/b.yaml").write_text(RULES.replace("zhijian-test", "zhijian-more"))
    dashboard = json.dumps({"title": "ZhiJian {{ not helm }}", "panels": [],
                            "templating": {"list": [{"query": "label_values(model)"}]}})
    (chart / "files/dashboards/overview.json").write_text(dashboard)
    objects = render(helm, chart=chart)
    rule = one(objects, "PrometheusRule")
    assert crds.errors(rule) == []
    expected = [g for name in ("a.yaml", "b.yaml")
                for g in yaml.safe_load((chart / "files/rules" / name).read_text())["groups"]]
    assert rule["spec"]["groups"] == expected  # as data; Prometheus' {{ }} untouched
    configmap = one(objects, "ConfigMap")
    assert configmap["data"] == {"overview.json": dashboard}
    assert configmap["metadata"]["labels"]["grafana_dashboard"] == "1"
    (chart / "files/rules/c.yaml").write_text("groups: [oops\n")
    with pytest.raises(helm.HelmError, match="c.yaml"):
        render(helm, chart=chart)


def test_the_shipped_rules_and_dashboards_are_rendered_as_data(helm, crds: CrdSchemas) -> None:
    objects = render(helm)
    rule = one(objects, "PrometheusRule")
    assert crds.errors(rule) == []
    rule_files = sorted((ROOT / "deploy/prometheus/rules").glob("*.yaml"))
    assert rule_files
    expected = [group for path in rule_files
                for group in yaml.safe_load(path.read_text())["groups"]]
    assert rule["spec"]["groups"] == expected
    configmap = one(objects, "ConfigMap")
    dashboards = sorted((ROOT / "deploy/grafana/dashboards").glob("*.json"))
    assert dashboards
    assert configmap["data"] == {path.name: path.read_text() for path in dashboards}
    assert configmap["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert all(json.loads(text)["uid"] for text in configmap["data"].values())
    kinds = [o["kind"] for o in render(helm, {"monitoring": {"prometheusRule": {"enabled": False},
                                                             "dashboards": {"enabled": False}}})]
    assert "PrometheusRule" not in kinds and "ConfigMap" not in kinds


def test_the_plain_prometheus_config_scrapes_what_the_pod_monitor_scrapes(helm) -> None:
    """deploy/prometheus/kubernetes.yaml (Prometheus without the Operator) keeps the pods and the
    port the chart's PodMonitor selects."""
    monitor = one(render(helm), "PodMonitor")
    (job,) = yaml.safe_load((ROOT / "deploy/prometheus/kubernetes.yaml").read_text())[
        "scrape_configs"]
    keep = {r["source_labels"][0]: r["regex"] for r in job["relabel_configs"]
            if r.get("action") == "keep"}
    selector = monitor["spec"]["selector"]["matchLabels"]
    assert keep["__meta_kubernetes_pod_label_app_kubernetes_io_name"] == \
        selector["app.kubernetes.io/name"]
    (endpoint,) = monitor["spec"]["podMetricsEndpoints"]
    assert keep["__meta_kubernetes_pod_container_port_name"] == endpoint["port"]
    assert job["metrics_path"] == endpoint["path"]


def test_without_rule_files_no_prometheus_rule_is_rendered(helm) -> None:
    shipped = sorted((CHART / "files/rules").glob("*.yaml"))
    kinds = [o["kind"] for o in render(helm)]
    assert ("PrometheusRule" in kinds) == bool(shipped)
    dashboards = sorted((CHART / "files/dashboards").glob("*.json"))
    assert ("ConfigMap" in kinds) == bool(dashboards)


@pytest.mark.parametrize(("origin", "copy_folder", "pattern"), SYNCED)
def test_chart_files_are_identical_copies_of_deploy(origin: str, copy_folder: str,
                                                    pattern: str) -> None:
    originals = {p.name: p.read_bytes() for p in sorted((ROOT / origin).glob(pattern))}
    copies = {p.name: p.read_bytes() for p in sorted((CHART / copy_folder).glob(pattern))}
    assert copies == originals, f"run `make sync-chart` ({origin} -> helm/zhijian/{copy_folder})"


def test_templates_never_pass_files_through_tpl() -> None:
    for template in (CHART / "templates").iterdir():
        code = re.sub(r"\{\{-?\s*/\*.*?\*/\s*-?\}\}", "", template.read_text(), flags=re.S)
        assert not re.search(r"\btpl\b", code), f"{template.name} calls tpl"


@pytest.mark.parametrize(("values", "words"), [
    ({"ray": {"workerGroups": [{"name": "gpu", "replicas": "two", "minReplicas": 0,
                                "maxReplicas": 2, "gpus": 1, "resources": {}}]}},
     "replicas"),
    ({"ingress": {"enabled": "true"}}, "enabled"),
    ({"serve": {"args": {"max_batch_sise": 8}}}, "max_batch_sise"),
    ({"serve": {"args": {"host": {"device": "tpu"}}}}, "device"),
    ({"serve": {"models": [{"name": "Bad Name", "minReplicas": 1, "maxReplicas": 2}]}}, "name"),
    ({"monitoring": {"podMonitor": {"interval": "often"}}}, "interval"),
    ({"imagee": {"tag": "x"}}, "imagee"),
    ({"prices": {"gpu": {"h100": "3.9"}}}, "prices"),
])
def test_values_violating_the_schema_are_refused_with_the_reason(helm, values: dict,
                                                                  words: str) -> None:
    with pytest.raises(helm.HelmValuesError, match=words):
        helm.Chart.load(str(CHART)).render(values, name="zhijian", namespace="serving")


@pytest.mark.parametrize(("values", "words"), [
    ({"secrets": {"adminToken": "short"}}, "at least 16 characters"),
    ({"secrets": {"registryUri": ""}}, "secrets.registryUri is empty"),
])
def test_template_checks_fail_with_the_reason(helm, values: dict, words: str) -> None:
    with pytest.raises(helm.HelmError, match=words):
        helm.Chart.load(str(CHART)).render(values, name="zhijian", namespace="serving")


def test_the_values_schema_types_every_value_and_mirrors_serve_args() -> None:
    from services.gateway.config import GatewayConfig
    from services.host.config import HostConfig
    from services.serve.config import ServeArgs
    from zhijian_core.names import NAME_PATTERN

    schema = json.loads((CHART / "values.schema.json").read_text())

    def walk(node: dict, path: str) -> None:
        assert "type" in node or "oneOf" in node, f"{path} has no type"
        if node.get("type") == "object" and "properties" in node:
            assert node.get("additionalProperties") is False, f"{path} accepts unknown keys"
            for key, child in node["properties"].items():
                walk(child, f"{path}.{key}")
        if node.get("type") == "array":
            walk(node["items"], f"{path}[]")

    properties = dict(schema["properties"])
    properties.pop("global")
    for key, child in properties.items():
        walk(child, key)
    args = schema["properties"]["serve"]["properties"]["args"]["properties"]
    assert set(args) == set(ServeArgs.model_fields) - {"models"}
    assert set(args["host"]["properties"]) == set(HostConfig.model_fields)
    assert set(args["gateway"]["properties"]) == set(GatewayConfig.model_fields) - {"admin_token", "api_key"}
    model = schema["properties"]["serve"]["properties"]["models"]["items"]
    assert model["properties"]["name"]["pattern"] == NAME_PATTERN
    enabled = [schema["properties"]["ingress"]["properties"]["enabled"],
               schema["properties"]["ray"]["properties"]["autoscaling"]]
    assert all(e["type"] == "boolean" for e in enabled)

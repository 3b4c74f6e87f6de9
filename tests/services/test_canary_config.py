"""The canary controller in the application's configuration: ``ServeArgs.canary`` (off unless
given), the deployment the builder declares for it, the shipped Serve configs and the chart's
values schema, which mirrors ``CanaryConfig``."""

from __future__ import annotations

import json
import os
import typing
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from services.canary import CanaryConfig
from services.serve.builder import build_app
from services.serve.config import ServeArgs

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "zhijian"


def _args(path: Path) -> ServeArgs:
    (application,) = yaml.safe_load(path.read_text())["applications"]
    return ServeArgs.model_validate(application["args"])


def test_the_controller_is_off_unless_configured() -> None:
    assert ServeArgs().canary is None
    assert ServeArgs(canary={}).canary == CanaryConfig()
    with pytest.raises(ValidationError, match="canary.windows"):
        ServeArgs.model_validate({"canary": {"windows": 30}})


def test_the_builder_declares_one_controller_replica_bound_into_the_gateway() -> None:
    gateway = build_app(ServeArgs(models=["m"]))._bound_deployment  # Ray's bound graph
    assert gateway.init_args[2] is None
    gateway = build_app(ServeArgs(models=["m", "n"], canary={"window_s": 30}))._bound_deployment
    controller = gateway.init_args[2]._bound_deployment
    assert (controller.name, controller.num_replicas) == ("canary-controller", 1)
    assert controller.ray_actor_options["num_cpus"] == CanaryConfig().num_cpus
    models, settings = controller.init_args
    assert models == ["m", "n"] and CanaryConfig.model_validate(settings).window_s == 30


def test_the_shipped_serve_configs_carry_the_controller() -> None:
    local = _args(ROOT / "deploy" / "serve" / "local.yaml").canary
    assert local is not None and local.prometheus_url is None  # one machine: the node's files
    gpu = _args(ROOT / "deploy" / "serve" / "gpu.yaml").canary
    assert gpu is not None and gpu.prometheus_url  # a cluster: Prometheus sees every node


def test_the_chart_schema_mirrors_the_canary_settings() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text())
    canary = schema["properties"]["serve"]["properties"]["args"]["properties"]["canary"]
    assert canary["type"] == ["object", "null"] and canary["additionalProperties"] is False
    assert set(canary["properties"]) == set(CanaryConfig.model_fields)
    nullable = {name for name, field in CanaryConfig.model_fields.items()
                if type(None) in typing.get_args(field.annotation)}
    assert "min_agreement" in nullable and "min_samples" not in nullable
    for name, node in canary["properties"].items():
        assert ("null" in node["type"]) == (name in nullable), name
    assert yaml.safe_load((CHART / "values.yaml").read_text())["serve"]["args"]["canary"] is None


def test_the_chart_renders_the_controller_when_given(tmp_path: Path) -> None:
    try:
        import helm_python
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("helm-python-sdk is not installed: it belongs to the dev extra")
        pytest.skip("helm-python-sdk is not installed (the dev extra)")
    from tests.deploy.serve_documents import check_serve_document

    url = "http://prometheus-operated.monitoring.svc:9090"
    values = {"serve": {"args": {"canary": {"prometheus_url": url, "window_s": 120}}}}
    manifests = helm_python.Chart.load(str(CHART)).render(values, name="z", namespace="serving")
    (rayservice,) = [doc for path, text in manifests.items() if path.endswith(".yaml")
                     for doc in yaml.safe_load_all(text) if doc and doc["kind"] == "RayService"]
    (args,) = check_serve_document(yaml.safe_load(rayservice["spec"]["serveConfigV2"]))
    assert args.canary == CanaryConfig(prometheus_url=url, window_s=120)
    with pytest.raises(helm_python.HelmValuesError, match="windows"):
        helm_python.Chart.load(str(CHART)).render(
            {"serve": {"args": {"canary": {"windows": 3}}}}, name="z", namespace="serving")


def test_the_controller_imports_no_torch() -> None:
    import subprocess
    import sys

    check = ("import sys, services.canary, services.serve.deployments\n"
             "heavy = [n for n in ('torch', 'transformers', 'timm', 'peft') if n in sys.modules]\n"
             "assert not heavy, heavy\n")
    done = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True,
                          timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr

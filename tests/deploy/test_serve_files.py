"""The shipped Serve config files: per-deployment overrides that Ray will accept, the GPU topology,
and the local file starting the application on a real local Ray (the path of `serve run`)."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import yaml

from tests.deploy.serve_documents import check_serve_document

SERVE = Path(__file__).resolve().parents[2] / "deploy" / "serve"


@pytest.mark.parametrize("path", sorted(SERVE.glob("*.yaml")), ids=lambda p: p.name)
def test_each_serve_file_passes_the_shared_check(path: Path) -> None:
    (args,) = check_serve_document(yaml.safe_load(path.read_text()))
    assert args.gateway.get("poll_interval_s", 30) > 0  # replicas follow the registry


def test_the_gpu_file_gives_hosts_gpus_and_autoscaling_bounds() -> None:
    document = yaml.safe_load((SERVE / "gpu.yaml").read_text())
    (args,) = check_serve_document(document)
    assert args.host_num_gpus > 0 and args.host.device == "cuda" and not args.host.allow_cpu_fallback
    (application,) = document["applications"]
    overrides = {d["name"]: d for d in application["deployments"]}
    assert set(overrides) == {"gateway"} | {f"host-{m}" for m in args.models}
    for name, override in overrides.items():
        bounds = override["autoscaling_config"]
        assert override["num_replicas"] == "auto"
        assert 1 <= bounds["min_replicas"] <= bounds["max_replicas"], name
    assert document["http_options"]["host"] == "0.0.0.0"


def test_a_host_override_for_an_unnamed_model_is_refused() -> None:
    document = yaml.safe_load((SERVE / "gpu.yaml").read_text())
    document["applications"][0]["deployments"].append({"name": "host-other", "num_replicas": 2})
    with pytest.raises(AssertionError, match="names no deployment"):
        check_serve_document(document)
    document = yaml.safe_load((SERVE / "gpu.yaml").read_text())
    document["applications"][0]["deployments"][1]["ray_actor_options"] = {"num_cpus": 1}
    with pytest.raises(AssertionError, match="num_gpus"):
        check_serve_document(document)


@pytest.mark.e2e
def test_the_local_file_starts_the_application(ray_serve, monkeypatch: pytest.MonkeyPatch,
                                                tmp_path: Path) -> None:
    from ray._common.utils import import_attr
    from ray.serve._private.api import call_user_app_builder_with_args_if_necessary
    from ray.serve.schema import ServeDeploySchema

    from tests.services.bundles import make_image_bundle
    from zhijian_core.registry import Registry, promote

    ray_serve.use(monkeypatch)
    registry = Registry()
    registry.register(make_image_bundle(tmp_path / "bundle", name="deploy-local"), "deploy-local")
    promote(registry, "deploy-local", 1, "production", actor="e2e")

    schema = ServeDeploySchema.model_validate(yaml.safe_load((SERVE / "local.yaml").read_text()))
    (application,) = schema.applications
    assert application.route_prefix == "/"
    # What `serve run deploy/serve/local.yaml` does: Ray validates the args against the typed
    # builder and builds the application. The shared cluster's registry may hold other tests'
    # models, so this one serves only its own; every other argument is the file's.
    args = {**application.args, "models": ["deploy-local"]}
    app = call_user_app_builder_with_args_if_necessary(import_attr(application.import_path), args)
    ray_serve.run(app, name=application.name)

    with urllib.request.urlopen(f"{ray_serve.url}/v2/health/ready", timeout=30) as answer:
        assert answer.status == 200
    body = {"inputs": [{"name": "pixel_values", "datatype": "FP32", "shape": [1, 3, 8, 8],
                        "data": np.linspace(0, 1, 192).tolist()}]}
    request = urllib.request.Request(f"{ray_serve.url}/v2/models/deploy-local/infer",
                                     data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as answer:
        result = json.loads(answer.read())
    assert result["model_version"] == "1"
    assert {o["name"] for o in result["outputs"]} == {"probabilities", "logits"}

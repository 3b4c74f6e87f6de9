"""One check of a Ray Serve config document for our application, shared by the shipped files in
``deploy/serve/`` and the chart's rendered ``serveConfigV2``."""

from __future__ import annotations

import importlib
from typing import Any

import yaml

from services.serve.builder import deployment_name
from services.serve.config import ServeArgs

def check_serve_document(document: dict[str, Any]) -> list[ServeArgs]:
    """Validate ``document`` against Ray Serve's ``ServeDeploySchema`` and our typed builder.

    Besides both schemas: every per-deployment override names a deployment the builder declares
    (Ray refuses the whole config otherwise, at deploy time), none replaces the builder's
    ``ray_actor_options`` (which would drop ``num_gpus``), and nothing secret is in the document.

    Returns:
        The builder's arguments of each application.
    """
    from ray.serve.schema import ServeDeploySchema

    schema = ServeDeploySchema.model_validate(document)
    found = []
    for application in schema.applications:
        module, _, name = application.import_path.partition(":")
        builder = getattr(importlib.import_module(module), name)
        assert builder.__annotations__["args"] in ("ServeArgs", ServeArgs), \
            f"{application.import_path} is not the typed builder"
        args = ServeArgs.model_validate(application.args)
        assert all(args.host_ongoing(m) >= 2 * args.batching_of(m).max_batch_size
                   for m in [*(args.models or ()), *args.batching, "any-model"])
        declared = {"gateway"} | {deployment_name(m) for m in args.models or ()}
        for override in application.deployments:
            assert override.name in declared, (
                f"deployment override {override.name!r} names no deployment of the application "
                f"(declared: {sorted(declared)}; a host override needs its model in args.models)")
            assert "ray_actor_options" not in override.model_fields_set, \
                f"{override.name}: ray_actor_options would replace the builder's (num_gpus)"
        # Ray applies an application's runtime_env env_vars only to deployments without a
        # runtime_env of their own, or listed under `deployments`: process knobs and secrets
        # come from the nodes' environment instead.
        assert "env_vars" not in (application.runtime_env or {}), \
            "runtime_env env_vars: set process knobs in the Ray nodes' environment"
        found.append(args)
    assert "admin_token" not in yaml.safe_dump(document)
    return found

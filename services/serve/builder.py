"""The typed application builder: ``services.serve.builder:build_app`` in a Serve config file.

    serve deploy deploy/serve/local.yaml        # on a running cluster
    zhijian serve                                # locally (starts Ray, builds, runs)
"""

from __future__ import annotations


from ray.serve import Application

from services.errors import ServiceError
from services.metrics.multiprocess import node_directory, prepare_directory, runtime_env_vars
from services.serve.config import ServeArgs
from services.serve.deployments import (CANARY_CONTROLLER, GATEWAY, CanaryControllerDeployment,
                                       GatewayDeployment, ModelHostDeployment)


def served_models(args: ServeArgs) -> list[str]:
    """The model names to serve: ``args.models``, else every registered model with a production
    alias (read from the registry now, when the application is built)."""
    if args.models is not None:
        return list(args.models)
    from zhijian_core.registry import Registry

    return sorted(m.name for m in Registry().list_models() if "production" in m.aliases)


def deployment_name(model: str) -> str:
    """The Serve deployment name of ``model``'s host."""
    return f"host-{model}"


def build_app(args: ServeArgs) -> Application:
    """The application: one host deployment per served model, the canary controller when
    ``args.canary`` is set, and the gateway over them.

    Raises:
        pydantic.ValidationError: Invalid arguments (every problem reported together).
        ServiceError: There is no model to serve.
    """
    if not isinstance(args, ServeArgs):  # Ray validates typed builders' args; Python callers too
        args = ServeArgs.model_validate(args)
    models = served_models(args)
    if not models:
        raise ServiceError("no model to serve: register a bundle and promote a version to "
                           "production first (zhijian registry register; zhijian promote)")
    poll = float(args.gateway.get("poll_interval_s", 30.0))
    host_settings = args.host.model_dump()
    # Metrics: one multiprocess directory per node, wiped here (once per application start, never
    # by a replica), named to every replica through its runtime environment.
    # Ray Serve's in-replica latency settings (ServeArgs.replica_env) go the same way.
    runtime_env = {"env_vars": {
        **args.replica_env,
        **runtime_env_vars(prepare_directory(node_directory(args.metrics_dir)))}}
    held = {"num_cpus": args.host_num_cpus, "num_gpus": args.host_num_gpus}
    hosts = {
        name: ModelHostDeployment.options(
            name=deployment_name(name), num_replicas=args.host_replicas,
            max_ongoing_requests=args.host_ongoing(name),
            ray_actor_options={**held, "runtime_env": runtime_env},
        ).bind(name, host_settings, args.batching_of(name).max_batch_size,
               args.batching_of(name).batch_wait_timeout_s, poll, held)
        for name in models}
    controller = None
    if args.canary is not None:
        controller = CanaryControllerDeployment.options(
            name=CANARY_CONTROLLER, num_replicas=1,  # one judge: two would race on the registry
            ray_actor_options={"num_cpus": args.canary.num_cpus, "runtime_env": runtime_env},
        ).bind(models, args.canary.model_dump(mode="json"))
    return GatewayDeployment.options(
        name=GATEWAY, num_replicas=args.gateway_replicas,
        max_ongoing_requests=args.gateway_max_ongoing_requests,
        ray_actor_options={"num_cpus": args.gateway_num_cpus, "runtime_env": runtime_env},
    ).bind(hosts, dict(args.gateway), controller)

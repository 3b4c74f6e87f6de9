"""The Ray Serve deployments: a model host per served model name, the gateway ingress, and the
canary controller when it is configured.

None is created at run time: :func:`services.serve.builder.build_app` declares one
``host-<name>`` deployment per served model, the ``canary-controller`` (``ServeArgs.canary``) and
the gateway holding their handles, so the Serve config (and KubeRay's ``serveConfigV2``) carries
the whole topology.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from ray import serve

from services.canary.config import CanaryConfig
from services.canary.controller import CanaryController
from services.canary.node import NodeSource
from services.canary.prometheus import PrometheusSource
from services.canary.source import MetricsSourceError
from services.environment import check_single_onnxruntime
from services.errors import ServiceError
from services.gateway.app import create_app
from services.gateway.config import GatewayConfig
from services.gateway.fleet import Fleet
from services.gateway.logs import emit_access_lines
from services.heap import settle
from services.host.batcher import Batcher
from services.host.config import HostConfig
from services.host.messages import HostRequest
from services.host.model_host import ModelHost
from services.host.priority import lower_priority
from services.host.source import RegistrySource
from services.metrics import CostMeter, Resources, mark_dead
from services.metrics.cost import TICK_S
from services.serve.ray_client import HostFailure, RayHostClient

log = logging.getLogger("zhijian.serve")
GATEWAY = "gateway"
"""The gateway's deployment name."""
CANARY_CONTROLLER = "canary-controller"
"""The canary controller's deployment name."""
REFRESH_TIMEOUT_S = 10.0
"""Longest wait for the gateway replicas to follow the registry after a canary decision."""


def _registry() -> Any:
    from zhijian_core.registry import Registry

    return Registry()


def _deployment(default: str) -> str:
    """This replica's deployment name (``default`` in local testing mode, which has no context)."""
    from ray.serve.exceptions import RayServeException

    try:
        return serve.get_replica_context().deployment
    except RayServeException:
        return default


@serve.deployment
class ModelHostDeployment:
    """Every served version of one model name, behind a dynamic batcher
    (:class:`services.host.batcher.Batcher`: a batch forms when the previous one is done).

    Args:
        name: The model name.
        host: The host settings (``HostConfig`` fields).
        max_batch_size: Most requests per ``session.run``.
        batch_wait_timeout_s: Longest wait for a batch to fill.
        poll_interval_s: Seconds between this replica's own reads of the registry's aliases (each
            replica follows the registry; the gateway's reload reaches one replica at once).
        resources: What the replica holds (``num_cpus``, ``num_gpus``), for cost accounting.
    """

    async def __init__(self, name: str, host: dict[str, Any], max_batch_size: int,
                       batch_wait_timeout_s: float, poll_interval_s: float,
                       resources: dict[str, float] | None = None) -> None:
        check_single_onnxruntime()
        config = HostConfig(**host)
        lower_priority(config.nice)  # before any session exists: its threads inherit it
        held = resources or {}
        meter = CostMeter(name, _deployment(f"host-{name}"),
                          Resources(cpus=held.get("num_cpus", 1.0), gpus=held.get("num_gpus", 0.0)))
        self._ticker = asyncio.ensure_future(self._tick(meter))
        self._host = ModelHost(name, RegistrySource(_registry()), config, meter=meter)
        self._batcher: Batcher[HostRequest, Any] = Batcher(self._run_batch, max_batch_size,
                                                           batch_wait_timeout_s)
        await self._host.sync()  # load, verify and warm up before the replica is ready
        settle()  # what start-up built lives as long as the replica: out of the collector's way
        self._poller = (asyncio.ensure_future(self._poll(poll_interval_s))
                        if poll_interval_s > 0 else None)

    @staticmethod
    async def _tick(meter: CostMeter) -> None:
        while True:  # usage and allocation accounted while idle too
            await asyncio.sleep(TICK_S)
            meter.tick()

    async def _poll(self, interval_s: float) -> None:
        while True:
            await asyncio.sleep(interval_s)
            with contextlib.suppress(ServiceError):  # the registry is down: keep serving
                await self._host.sync()

    async def check_health(self) -> None:
        """Ray Serve's health check: unhealthy while production cannot answer."""
        readiness = await self._host.readiness()
        if not readiness.ready:
            raise RuntimeError(f"model '{self._host.name}' is not ready: {readiness.reason}")

    async def _run_batch(self, requests: list[HostRequest], queued: list[float]) -> list[Any]:
        results = await self._host.infer_batch(requests, queued)
        return [HostFailure.of(r) if isinstance(r, ServiceError) else r for r in results]

    async def infer(self, request: HostRequest) -> Any:
        return await self._batcher.submit(request)  # the queue stage is measured from here

    async def _call(self, method: str, *args: Any) -> Any:
        try:
            return await getattr(self._host, method)(*args)
        except ServiceError as exc:
            return HostFailure.of(exc)

    async def readiness(self, version: int | None = None) -> Any:
        return await self._call("readiness", version)

    async def metadata(self, version: int | None = None) -> Any:
        return await self._call("metadata", version)

    async def preflight(self, version: int) -> Any:
        return await self._call("preflight", version)

    async def statistics(self, version: int | None = None) -> Any:
        return await self._call("statistics", version)

    async def sync(self) -> Any:
        return await self._call("sync")

    async def __del__(self) -> None:
        if getattr(self, "_poller", None) is not None:
            self._poller.cancel()
        if getattr(self, "_ticker", None) is not None:
            self._ticker.cancel()
        if getattr(self, "_batcher", None) is not None:
            self._batcher.close()
        await self._host.close()
        mark_dead()


@serve.deployment
@serve.ingress()
class GatewayDeployment:
    """The HTTP ingress: the gateway's FastAPI application over the hosts' handles.

    Args:
        hosts: Model name to its host deployment's handle.
        gateway: Gateway settings (``GatewayConfig`` fields but the token, read from
            ``$ZHIJIAN_ADMIN_TOKEN`` here; the replica refuses to start without one).
        canary: The canary controller's handle, when one is configured (bound here so that the
            controller is part of the application; it calls :meth:`refresh`, not the other way).
    """

    async def __init__(self, hosts: dict[str, Any], gateway: dict[str, Any],
                       canary: Any = None) -> None:
        check_single_onnxruntime()
        emit_access_lines()  # one JSON line per request in the replica's log
        self._config = GatewayConfig.from_env(**gateway)
        self._registry = _registry()
        self._fleet = Fleet({name: RayHostClient(handle) for name, handle in hosts.items()},
                            self._registry.canary_percent, self._config.shadow_percent)
        self._canary = canary

    def __serve_build_asgi_app__(self) -> Any:
        return create_app(self._config, self._fleet, self._registry, on_started=settle)

    async def refresh(self, model: str) -> dict[str, int]:
        """Follow the registry for ``model`` now (the canary controller broadcasts this to every
        gateway replica after it changed the model's aliases).

        Returns:
            Alias to the version now serving it (empty for a model not served here).
        """
        if model not in self._fleet.hosts:
            return {}
        return (await self._fleet.refresh(model))[model]

    def __del__(self) -> None:
        mark_dead()


def _one_node() -> None:
    """Refuse node-local windows on a Ray cluster of several nodes: this node's metric files do not
    see the replicas of the others.

    Raises:
        MetricsSourceError: More than one node is alive.
    """
    import ray

    alive = [node for node in ray.nodes() if node.get("Alive")]
    if len(alive) > 1:
        raise MetricsSourceError(
            f"the Ray cluster has {len(alive)} nodes and this node's metric files see only its own "
            "replicas: set canary.prometheus_url to a Prometheus that scrapes every node")


async def _refresh_gateways(model: str) -> None:
    """Have every gateway replica follow the registry for ``model`` now (a broadcast)."""
    handle = serve.get_deployment_handle(GATEWAY)
    await handle.broadcast("refresh", model).results_async(timeout_s=REFRESH_TIMEOUT_S)


@serve.deployment
class CanaryControllerDeployment:
    """The canary controller (one replica): judges every served model's canary over a sliding
    window and rolls it back on a breach (or promotes it, when configured); see
    :class:`services.canary.CanaryController`.

    Args:
        models: The served model names.
        canary: Its settings (``CanaryConfig`` fields).
    """

    async def __init__(self, models: list[str], canary: dict[str, Any]) -> None:
        config = CanaryConfig.model_validate(canary)
        source = (PrometheusSource(config.prometheus_url, config.cost_basis,
                                   config.prometheus_timeout_s) if config.prometheus_url
                  else NodeSource(config.cost_basis, guard=_one_node))
        self._controller = CanaryController(models, config, _registry(), source,
                                            refresh=_refresh_gateways)
        self._task = asyncio.ensure_future(self._controller.run())

    async def status(self) -> dict[str, Any]:
        """The latest evaluation of each model that has a canary, as JSON."""
        return self._controller.status()

    async def check_health(self) -> None:
        """Ray Serve's health check: unhealthy if the evaluation loop has stopped."""
        if self._task.done():
            raise RuntimeError(f"the canary controller's loop stopped: {self._task!r}")

    def __del__(self) -> None:
        if getattr(self, "_task", None) is not None:
            self._task.cancel()
        mark_dead()

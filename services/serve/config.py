"""The typed arguments of the Serve application builder (``services.serve.builder:build_app``).

Everything Ray Serve needs is declared from these, so a Serve config file (and KubeRay's
``serveConfigV2``) holds the whole topology; no deployment is created at run time. Defaults fit two
CPUs with room for a hot-swap copy of a model: fractional CPUs, no batch wait (batches form from
what queues while the previous batch runs), ``max_ongoing_requests`` at least twice
``max_batch_size`` so that batches can fill, and Ray Serve's in-replica latency knobs
(:data:`REPLICA_ENV`). docs/serving.md, "Where the time goes", has the measurements behind them.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, PositiveInt, model_validator

from services.canary.config import CanaryConfig
from services.gateway.config import GatewayConfig
from services.host.config import HostConfig
from zhijian_core.errors import InvalidNameError
from zhijian_core.names import check_model_name

REPLICA_ENV: dict[str, str] = {
    "RAY_SERVE_RUN_USER_CODE_IN_SEPARATE_THREAD": "0",
    "RAY_SERVE_RUN_ROUTER_IN_SEPARATE_LOOP": "0",
}
"""Ray Serve settings read by each replica process (part of Ray's documented
``RAY_SERVE_THROUGHPUT_OPTIMIZED`` mode, without its cluster-wide direct ingress): user code and the
handles' router on the replica's own event loop instead of threads of their own. The mode's third
in-replica part, gRPC between replicas, is the gateway's handle option
(:class:`services.serve.ray_client.RayHostClient`)."""


MIN_HOST_ONGOING = 64
"""Smallest default ``max_ongoing_requests`` of a host replica: what two gateway replicas admit
for one model with the gateway's default ``max_in_flight`` (32) each, so that the host queues
admitted requests in its batcher instead of Ray's router rejecting them."""


class Batching(BaseModel):
    """Dynamic batching of one model's host (overrides the application's defaults)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_batch_size: PositiveInt
    batch_wait_timeout_s: float = Field(default=0.0, ge=0, le=1)


class ServeArgs(BaseModel):
    """Arguments of the application builder (strict: an unknown key is an error)."""

    # A token pasted into ``gateway`` by mistake must not be echoed by the refusal.
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    models: list[str] | None = None
    """Model names to serve; ``None``: every registered model that has a ``production`` alias
    (resolved when the application is built)."""
    host: HostConfig = HostConfig()
    """How each model host loads and runs its versions (device, threads, LRU size ...)."""
    gateway: dict[str, Any] = Field(default_factory=dict)
    """Gateway settings (fields of ``GatewayConfig`` except the admin token, which replicas read
    from ``$ZHIJIAN_ADMIN_TOKEN``)."""
    max_batch_size: PositiveInt = 16
    """Most requests one ``session.run`` serves (the host's dynamic batcher,
    :class:`services.host.batcher.Batcher`)."""
    batch_wait_timeout_s: float = Field(default=0.0, ge=0, le=1)
    """Longest wait for a batch to fill after its first request. 0: none; a batch is then every
    request that queued while the previous batch ran, so batches still grow under load while a
    lone request never waits (any wait is pure latency at concurrency 1; Ray's 10 ms default would
    double a 10 ms model's)."""
    batching: dict[str, Batching] = Field(default_factory=dict)
    """Per model name, its own batching (a large model wants larger batches than a small one);
    models not named use ``max_batch_size`` and ``batch_wait_timeout_s``."""
    host_num_cpus: PositiveFloat = 1.0
    """CPUs each model-host replica holds (ONNX Runtime threads follow ``host.cpus``)."""
    host_num_gpus: float = Field(default=0.0, ge=0)
    """GPUs each model-host replica holds; above 0 the hosts use the CUDA execution provider."""
    host_replicas: PositiveInt = 1
    host_max_ongoing_requests: PositiveInt | None = None
    """Requests a host replica accepts at once (default: twice ``max_batch_size``, at least 64)."""
    gateway_num_cpus: PositiveFloat = 0.1
    gateway_replicas: PositiveInt = 1
    gateway_max_ongoing_requests: PositiveInt = 512
    replica_env: dict[str, str] = Field(default_factory=lambda: dict(REPLICA_ENV))
    """``RAY_SERVE_*`` environment variables of every host and gateway replica (through its
    ``runtime_env``); ``{}`` keeps Ray's defaults."""
    metrics_dir: str | None = None
    """Directory of the Prometheus multiprocess files, the same path on every node (wiped when the
    application is built); ``None``: ``$PROMETHEUS_MULTIPROC_DIR``, else
    ``$ZHIJIAN_HOME/metrics``."""
    canary: CanaryConfig | None = None
    """The automatic canary controller (a ``canary-controller`` deployment of one replica), with
    its thresholds; ``{}`` turns it on with the defaults, ``None`` (the default) runs none. Off by
    default because it writes to the registry on its own (rolls canaries back, and promotes them
    when ``auto_promote`` is set) with thresholds that suit each model differently, and because on
    a cluster of several nodes it needs ``prometheus_url``, which only the operator knows."""

    @model_validator(mode="after")
    def _check(self) -> "ServeArgs":
        for name in self.models or ():
            try:
                check_model_name(name)
            except InvalidNameError as exc:
                raise ValueError(str(exc)) from exc
        if "admin_token" in self.gateway:
            raise ValueError("the admin token is never part of the Serve config: replicas read it "
                             "from $ZHIJIAN_ADMIN_TOKEN")
        if "api_key" in self.gateway:
            raise ValueError("the API key is never part of the Serve config: replicas read it "
                             "from $ZHIJIAN_API_KEY")
        GatewayConfig(admin_token="x" * 16, **self.gateway)  # field names and types, early
        for name in self.batching:
            try:
                check_model_name(name)
            except InvalidNameError as exc:
                raise ValueError(f"batching: {exc}") from exc
        largest = max([self.max_batch_size, *(b.max_batch_size for b in self.batching.values())])
        if self.host_max_ongoing_requests is not None \
                and self.host_max_ongoing_requests < 2 * largest:
            raise ValueError(f"host_max_ongoing_requests ({self.host_max_ongoing_requests}) must be "
                             f"at least twice max_batch_size ({largest}), or batches never fill")
        unknown = sorted(key for key in self.replica_env if not key.startswith("RAY_SERVE_"))
        if unknown:
            raise ValueError(f"replica_env holds Ray Serve settings only (RAY_SERVE_*), not "
                             f"{unknown}: secrets and other settings come from the nodes' "
                             "environment")
        if self.host_num_gpus > 0 and self.host.device != "cuda":
            raise ValueError("host_num_gpus > 0 needs host.device 'cuda'")
        return self

    def batching_of(self, model: str) -> Batching:
        """The batching of ``model``'s host: its own, else the application's defaults."""
        return self.batching.get(model) or Batching(max_batch_size=self.max_batch_size,
                                                    batch_wait_timeout_s=self.batch_wait_timeout_s)

    def host_ongoing(self, model: str) -> int:
        """``max_ongoing_requests`` of ``model``'s host replicas: by default twice its batch, and
        at least :data:`MIN_HOST_ONGOING`, so that what the gateway admits waits in the host's
        batcher (first come, first served) rather than in Ray's router, which retries a request
        for a full replica with backoff and can leave one waiting for seconds behind later ones."""
        return self.host_max_ongoing_requests or max(
            2 * self.batching_of(model).max_batch_size, MIN_HOST_ONGOING)

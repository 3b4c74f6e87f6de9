"""Every metric of the service, declared once: names with the ``zhijian_`` prefix and a unit
suffix, and fixed, low-cardinality label keys.

Label values are never taken from a request as given: ``model`` is a served model's name (``""``
for a request naming none that is served), ``version`` a version that answered (``""`` when none
did), ``route`` the route template matched (``""`` when none matched), ``code`` the HTTP status,
``device`` ``cpu`` or ``gpu``, ``basis`` ``usage`` or ``allocation``, ``stage`` one of
:data:`STAGES`, ``outcome`` a fixed word per metric, ``deployment`` a Serve deployment name,
``alias`` one of :data:`ALIASES`, ``arm`` one of :data:`ARMS`, ``decision`` one of
:data:`CANARY_DECISIONS`, ``check`` one of :data:`CANARY_CHECKS` or ``none``.

The metrics are created on first use of :func:`metrics` (never at import), once per process. When
``$PROMETHEUS_MULTIPROC_DIR`` is set in a process before ``prometheus_client`` is imported, every
value lives in that directory's files and :mod:`services.metrics.multiprocess` aggregates them.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

PREFIX = "zhijian_"
STAGES = ("queue", "preprocess", "inference", "postprocess")
"""Stages of an inference inside a model host."""
NONE = ""
"""Value of a label that has no bounded value for this sample (unknown model, no version)."""
ALIASES = ("production", "canary", "shadow")
"""Values of the ``alias`` label: the serving aliases the gateway routes to (as
:data:`services.host.SERVING_ALIASES`; the host imports these metrics, not the other way)."""
ARMS = ("production", "canary")
"""Values of the ``arm`` label: the two sides a canary decision compares."""
CANARY_DECISIONS = ("hold", "rollback", "promote")
"""Values of the ``decision`` label."""
CANARY_CHECKS = ("error_ratio", "p95_latency", "cost_per_1k", "agreement")
"""Values of the ``check`` label (besides ``none``), in the order the controller reports them."""

LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05,
                   0.075, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
"""Seconds: fine steps from 0.5 ms to 30 ms, where millisecond models answer, then coarser."""
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128)
"""Requests per batch."""
LOAD_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
"""Seconds to verify, load and warm up a version."""
AGREEMENT_BUCKETS = (0.0, 0.5, 0.8, 0.9, 0.95, 0.98, 0.99, 0.995, 0.999, 1.0)
"""Agreement of a shadow answer with production's: 0-1 (same label, or cosine similarity)."""


class Metrics:
    """The service's metrics (use :func:`metrics` for the process-wide set).

    Args:
        registry: Where the metrics are registered; a private registry when omitted.
    """

    def __init__(self, registry: "CollectorRegistry | None" = None) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
        r = self.registry
        n = PREFIX
        # ---- gateway: every HTTP answer (but /metrics) --------------------------------------
        self.requests = Counter(f"{n}requests", "HTTP requests answered by the gateway.",
                                ("model", "version", "route", "code"), registry=r)
        self.request_errors = Counter(
            f"{n}request_errors", "HTTP requests answered with a status of 400 or more.",
            ("model", "version", "route", "code"), registry=r)
        self.request_duration = Histogram(
            f"{n}request_duration_seconds", "End-to-end latency in the gateway, from the first "
            "byte received to the answer sent.", ("model", "version", "route"),
            buckets=LATENCY_BUCKETS, registry=r)
        self.in_flight = Gauge(f"{n}requests_in_flight", "Inferences admitted and not yet "
                               "answered.", ("model",), multiprocess_mode="livesum", registry=r)
        self.admission_rejections = Counter(
            f"{n}admission_rejections", "Inferences refused with 429 by the gateway's admission "
            "control.", ("model",), registry=r)
        self.shadow_requests = Counter(
            f"{n}shadow_requests", "Shadow copies by outcome: sent, dropped (over the concurrency "
            "budget) or failed.", ("model", "outcome"), registry=r)
        self.shadow_agreement = Histogram(
            f"{n}shadow_agreement_ratio", "Agreement of a shadow answer with the production answer "
            "it mirrors: share of same labels, or mean cosine similarity of embeddings.",
            ("model", "version"), buckets=AGREEMENT_BUCKETS, registry=r)
        # ---- model hosts ----------------------------------------------------------------------
        self.stage_duration = Histogram(
            f"{n}stage_duration_seconds", "Time of one stage of an inference inside a model host: "
            "queue (per request), preprocess, inference, postprocess (per batch).",
            ("model", "version", "stage"), buckets=LATENCY_BUCKETS, registry=r)
        self.batch_size = Histogram(f"{n}batch_size", "Requests per batch run by one version.",
                                    ("model", "version"), buckets=BATCH_BUCKETS, registry=r)
        self.inferences = Counter(f"{n}inferences", "Requests a model host answered, by "
                                  "outcome (success, failure).", ("model", "version", "outcome"),
                                  registry=r)
        self.compute = Counter(f"{n}inference_compute_seconds", "Wall time of session.run.",
                               ("model", "version", "device"), registry=r)
        self.load_duration = Histogram(
            f"{n}model_load_duration_seconds", "Time to verify, load and warm up a version, by "
            "outcome (success, failure).", ("model", "outcome"), buckets=LOAD_BUCKETS, registry=r)
        self.warmup_duration = Histogram(
            f"{n}model_warmup_duration_seconds", "Time of a version's warm-up batch.", ("model",),
            buckets=LOAD_BUCKETS, registry=r)
        self.lru_lookups = Counter(
            f"{n}lru_lookups", "Requests for a version without a serving alias: hit (loaded in the "
            "LRU) or miss (loaded for it).", ("model", "outcome"), registry=r)
        self.lru_evictions = Counter(f"{n}lru_evictions", "Versions evicted from a host's LRU.",
                                     ("model",), registry=r)
        # ---- replicas and cost ----------------------------------------------------------------
        self.replicas = Gauge(f"{n}replicas", "Live replicas.", ("deployment",),
                              multiprocess_mode="livesum", registry=r)
        self.uptime = Gauge(f"{n}replica_uptime_seconds", "Uptime of the youngest live replica.",
                            ("deployment",), multiprocess_mode="livemin", registry=r)
        self.replica_cpu = Counter(f"{n}replica_cpu_seconds", "CPU time of model-host replica "
                                   "processes, serving or not.", ("deployment",), registry=r)
        self.device_seconds = Counter(
            f"{n}device_seconds", "Device-seconds (CPU-seconds, GPU-seconds) of a version, used or "
            "allocated.", ("model", "version", "device", "basis"), registry=r)
        self.cost = Counter(f"{n}cost_dollars", "Dollars of a version by the price table, on the "
                            "usage or allocation basis.", ("model", "version", "device", "basis"),
                            registry=r)
        self.price = Gauge(f"{n}price_dollars_per_hour", "Price of one device-hour in the "
                           "replicas' price table.", ("device",), multiprocess_mode="livemax",
                           registry=r)
        # ---- releases: the traffic split and the canary controller -------------------------
        self.traffic_percent = Gauge(
            f"{n}traffic_percent", "The gateway's current split of a model's requests, in percent: "
            "production (100 minus the canary's), canary, and shadow (the share mirrored).",
            ("model", "alias"), multiprocess_mode="livemax", registry=r)
        self.alias_version = Gauge(
            f"{n}alias_version", "The version a serving alias (production, canary, shadow) "
            "serves; 0 when the alias is unset.", ("model", "alias"), multiprocess_mode="livemax",
            registry=r)
        self.canary_decisions = Counter(
            f"{n}canary_decisions", "Evaluations of the canary controller by decision (hold, "
            "rollback, promote) and the check that breached (none for a hold or a promote).",
            ("model", "decision", "check"), registry=r)
        self.canary_observed = Gauge(
            f"{n}canary_observed", "Each canary check's value over the controller's last window, "
            "per arm (production, canary): error_ratio (0-1), p95_latency (seconds), cost_per_1k "
            "(dollars per 1,000 inferences), agreement (0-1).", ("model", "arm", "check"),
            multiprocess_mode="livemax", registry=r)


_METRICS: Metrics | None = None
_LOCK = threading.Lock()


def metrics() -> Metrics:
    """The process-wide metrics, created on first use."""
    global _METRICS
    if _METRICS is None:
        with _LOCK:
            if _METRICS is None:
                _METRICS = Metrics()
    return _METRICS

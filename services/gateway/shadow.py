"""Shadow traffic: a sampled copy of production requests sent to the ``shadow`` version.

The copy is started only once the production answer exists (it is never awaited on the response
path) and runs under its own concurrency budget: when ``shadow_max_in_flight`` copies are already
running, the new one is dropped and counted, so a slow or failing shadow version can neither delay
nor fail production. Each finished copy is compared with the production answer it mirrors: the same
label (classification) or the cosine similarity of the vectors (embedding).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

import numpy as np

from services.host.interface import HostClient
from services.host.messages import HostRequest, HostResponse, Target
from services.metrics import metrics
from services.routing import BUCKETS, bucket

log = logging.getLogger("zhijian.shadow")


@dataclass
class ShadowCounters:
    """What shadow traffic did for one model (read by the stats and metrics)."""

    sent: int = 0
    dropped: int = 0
    failed: int = 0
    compared: int = 0
    agreement_sum: float = 0.0
    """Sum over compared copies of the agreement (1/0 for labels, cosine for embeddings)."""
    failures: dict[str, int] = field(default_factory=dict)
    """Failures by error class."""

    @property
    def agreement(self) -> float | None:
        """Mean agreement of the compared copies (``None`` before the first)."""
        return self.agreement_sum / self.compared if self.compared else None


def agreement(production: HostResponse, shadow: HostResponse) -> float | None:
    """Agreement of two answers to the same request: the fraction of rows with the same label for
    a classification, the mean cosine similarity of the rows for an embedding; ``None`` when they
    share no comparable output."""
    for name in ("probabilities", "logits", "embedding"):
        if name in production.outputs and name in shadow.outputs:
            a = np.asarray(production.outputs[name], dtype=np.float64)
            b = np.asarray(shadow.outputs[name], dtype=np.float64)
            if a.shape != b.shape or a.ndim != 2:
                return None
            if name == "embedding":
                norms = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
                return float(np.mean((a * b).sum(axis=1) / np.maximum(norms, 1e-12)))
            return float(np.mean(a.argmax(axis=1) == b.argmax(axis=1)))
    return None


class Shadow:
    """Sampling, the concurrency budget and the counters of shadow traffic.

    Args:
        percent: Share of production requests mirrored (0-100), by the routing key's bucket.
        max_in_flight: Copies running at once (all models together); more are dropped.
    """

    def __init__(self, percent: float, max_in_flight: int) -> None:
        self.percent = percent
        self.max_in_flight = max_in_flight
        self.in_flight = 0
        self.counters: dict[str, ShadowCounters] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def sampled(self, key: str) -> bool:
        """Whether the request with routing key ``key`` is mirrored."""
        return bucket(key) < self.percent * BUCKETS / 100

    def mirror(self, model: str, host: HostClient, request: HostRequest,
               production: HostResponse) -> None:
        """Start the shadow copy of ``request`` in the background (or drop it, counted)."""
        counters = self.counters.setdefault(model, ShadowCounters())
        if self.in_flight >= self.max_in_flight:
            counters.dropped += 1
            metrics().shadow_requests.labels(model, "dropped").inc()
            return
        self.in_flight += 1
        counters.sent += 1
        metrics().shadow_requests.labels(model, "sent").inc()
        copy = HostRequest(request.request_id, Target(alias="shadow"), request.inputs,
                           request.outputs)
        task = asyncio.get_running_loop().create_task(
            self._run(model, counters, host, copy, production))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, model: str, counters: ShadowCounters, host: HostClient,
                   request: HostRequest, production: HostResponse) -> None:
        try:
            answer = await host.infer(request)
        except Exception as exc:  # a shadow copy's failure is counted, never raised
            counters.failed += 1
            metrics().shadow_requests.labels(model, "failed").inc()
            name = type(exc).__name__
            counters.failures[name] = counters.failures.get(name, 0) + 1
            log.debug("shadow copy of %s failed: %s", request.request_id, name)
            return
        finally:
            self.in_flight -= 1
        value = agreement(production, answer)
        if value is not None:
            counters.compared += 1
            counters.agreement_sum += value
            metrics().shadow_agreement.labels(model, str(answer.version)).observe(value)

    def report(self, model: str) -> dict[str, object]:
        """The counters of ``model`` as JSON (zeros before its first copy)."""
        counters = self.counters.get(model, ShadowCounters())
        return {"sent": counters.sent, "dropped": counters.dropped, "failed": counters.failed,
                "compared": counters.compared, "agreement": counters.agreement,
                "failures": dict(counters.failures)}

    async def drain(self) -> None:
        """Wait for the running copies (tests and shutdown)."""
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

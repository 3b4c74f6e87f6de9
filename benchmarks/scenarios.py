"""Reliability scenarios against a running service, shared by the tests (relative, generous bounds)
and the reliability benchmark (absolute figures, median of 3 runs).

Each returns plain figures (a dict); neither asserts. Loads are bounded, go to 127.0.0.1 only, and
stop by themselves.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Any, Callable

from benchmarks.loadgen import Shot, closed_loop, open_loop, percentile, throughput

REJECTIONS = (429, 503)
"""The only failures overload may cause: refusals that tell the client to come back."""


def capacity(url: str, body: bytes, clients: int = 16, seconds: float = 3.0) -> float:
    """Successful answers per second with ``clients`` back-to-back clients."""
    return throughput(asyncio.run(closed_loop(url, body, clients, seconds)))


def describe(shots: list[Shot]) -> dict[str, Any]:
    """Counts by status, latency of successes and of rejections, the longest request."""
    ok = [s.latency for s in shots if s.ok]
    rejected = [s for s in shots if s.status in REJECTIONS]
    return {
        "requests": len(shots),
        "statuses": dict(sorted(Counter(s.status for s in shots).items())),
        "ok": len(ok),
        "rejected": len(rejected),
        "rejected_without_retry_after": sum(1 for s in rejected if not s.retry_after),
        "other_failures": sum(1 for s in shots if not s.ok and s.status not in REJECTIONS),
        "ok_p50_s": percentile(ok, 50),
        "ok_p99_s": percentile(ok, 99),
        "rejection_p50_s": percentile([s.latency for s in rejected], 50),
        "rejection_p99_s": percentile([s.latency for s in rejected], 99),
        "rejection_max_s": max((s.latency for s in rejected), default=float("nan")),
        "max_latency_s": max((s.latency for s in shots), default=float("nan")),
        "errors": sorted({s.error for s in shots if s.error})[:5],
    }


def recovery_s(shots: list[Shot], start: float, normal_p50_s: float, factor: float = 2.0,
               step_s: float = 0.5) -> float:
    """Seconds after ``start`` until the median latency of successes sent in a ``step_s`` slice
    first falls within ``factor`` × ``normal_p50_s`` and stays there; ``inf`` if it never does."""
    slices: dict[int, list[float]] = {}
    for shot in shots:
        if shot.ok and shot.sent >= start:
            slices.setdefault(int((shot.sent - start) / step_s), []).append(shot.latency)
    recovered: float = float("inf")
    for index in sorted(slices, reverse=True):
        if percentile(slices[index], 50) > factor * normal_p50_s:
            break
        recovered = index * step_s
    return recovered


def overload(url: str, body: bytes, rate: float, factor: float = 4.0, steady_s: float = 4.0,
             overload_s: float = 4.0, after_s: float = 5.0) -> dict[str, Any]:
    """Half of ``rate`` (the measured capacity), then ``factor`` × ``rate``, then half again, on one
    schedule (the last phase starts when the overload stops sending, not when it is answered).

    Figures: each phase described, and ``recovery_s``: how long after the overload stopped the
    median latency was back within twice the first phase's.
    """
    steady, heavy, after = asyncio.run(open_loop(
        url, body, [(rate / 2, steady_s), (rate * factor, overload_s), (rate / 2, after_s)]))
    first = describe(steady)
    return {"capacity_rps": rate, "factor": factor, "steady": first, "overload": describe(heavy),
            "after": describe(after),
            "recovery_s": recovery_s(after, min(s.sent for s in after), first["ok_p50_s"])}


def _recovery(replicas: Callable[[], int], expected: int, killed_at: float, within_s: float
              ) -> float:
    """Seconds from ``killed_at`` until ``replicas()`` dropped below ``expected`` and came back to
    it (``inf``: not within ``within_s``)."""
    dropped = False
    while time.monotonic() - killed_at < within_s:
        count = replicas()
        dropped = dropped or count < expected
        if dropped and count >= expected:
            return time.monotonic() - killed_at
        time.sleep(0.2)
    return float("inf")


async def _load_with_kill(url: str, body: bytes, rate: float, seconds: float, kill_after_s: float,
                          kill: Callable[[], None], replicas: Callable[[], int], expected: int,
                          within_s: float) -> tuple[list[Shot], float, float]:
    load = asyncio.create_task(open_loop(url, body, [(rate, seconds)]))
    await asyncio.sleep(kill_after_s)
    killed_at = time.monotonic()
    await asyncio.to_thread(kill)
    recovery = asyncio.create_task(asyncio.to_thread(_recovery, replicas, expected, killed_at,
                                                     within_s))
    (shots,) = await load
    return shots, killed_at, await recovery


def replica_kill(url: str, body: bytes, rate: float, kill: Callable[[], None],
                 replicas: Callable[[], int], expected: int, seconds: float = 12.0,
                 kill_after_s: float = 4.0, recover_within_s: float = 60.0) -> dict[str, Any]:
    """Load at ``rate`` for ``seconds``; ``kill`` one replica ``kill_after_s`` in, and watch
    ``replicas()`` (running replicas) drop and come back to ``expected``, during the load and after.

    Figures: the failed requests (count, share of the minute around the kill, statuses, the last
    one's answer time after the kill) and ``recovery_s``, the seconds from the kill until
    ``expected`` replicas run again (``inf`` if not within ``recover_within_s``).
    """
    shots, killed_at, recovered = asyncio.run(_load_with_kill(
        url, body, rate, seconds, kill_after_s, kill, replicas, expected, recover_within_s))
    failed = [s for s in shots if not s.ok]
    window = [s for s in shots if abs(s.sent - killed_at) <= 30.0]
    return {"rate_rps": rate, "requests": len(shots), "failed": len(failed),
            "failed_share_around_kill": (sum(1 for s in window if not s.ok) / len(window)
                                         if window else 0.0),
            "failure_statuses": dict(sorted(Counter(s.status for s in failed).items())),
            "last_failure_after_kill_s": max((s.done - killed_at for s in failed), default=0.0),
            "errors": sorted({s.error for s in failed if s.error})[:5],
            "ok_p50_s": percentile([s.latency for s in shots if s.ok], 50),
            "recovery_s": recovered}

"""A bounded HTTP load generator for 127.0.0.1: closed loop (N clients back to back) to measure
capacity, open loop (requests sent on a fixed schedule, whatever the answers) to offer a load
that does not slow down when the service does, which is what overload means.

Every request is one :class:`Shot`: when it was due (open loop), sent and answered (monotonic
seconds), its status (``0`` when no HTTP answer came: connection refused or reset, or the client's
own timeout) and its ``Retry-After`` header. The loops stop by themselves: after their duration, and every request
has a client timeout.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Iterable, Sequence

import aiohttp
import numpy as np

CLIENT_TIMEOUT_S = 30.0
"""No request is waited for longer than this (the service's deadline is 10 s by default)."""


@dataclass(frozen=True)
class Shot:
    """One request and its answer."""

    sent: float
    done: float
    status: int
    retry_after: str | None = None
    error: str = ""
    scheduled: float = float("nan")
    """When the open loop's schedule said to send it (``sent`` is later when the client lags)."""

    @property
    def latency(self) -> float:
        return self.done - self.sent

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


async def _one(session: aiohttp.ClientSession, url: str, body: bytes,
               scheduled: float = float("nan")) -> Shot:
    sent = time.monotonic()
    try:
        async with session.post(url, data=body,
                                headers={"Content-Type": "application/json"}) as answer:
            await answer.read()
            return Shot(sent, time.monotonic(), answer.status, answer.headers.get("Retry-After"),
                        scheduled=scheduled)
    except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
        return Shot(sent, time.monotonic(), 0, None, f"{type(exc).__name__}: {exc}", scheduled)


def _session(connections: int, traces: Sequence[aiohttp.TraceConfig] = ()
             ) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=connections, force_close=False),
        timeout=aiohttp.ClientTimeout(total=CLIENT_TIMEOUT_S), trace_configs=list(traces))


async def closed_loop(url: str, body: bytes, clients: int, seconds: float) -> list[Shot]:
    """``clients`` clients, each sending its next request when the last one is answered."""
    shots: list[Shot] = []
    stop = time.monotonic() + seconds
    async with _session(clients) as session:
        async def client() -> None:
            while time.monotonic() < stop:
                shots.append(await _one(session, url, body))
        await asyncio.gather(*(client() for _ in range(clients)))
    return shots


async def open_loop(url: str, body: bytes, phases: Iterable[tuple[float, float]],
                    connections: int = 512, traces: Sequence[aiohttp.TraceConfig] = ()
                    ) -> list[list[Shot]]:
    """Send requests on a fixed schedule, phase after phase: ``(rate per second, seconds)`` each,
    without waiting for answers between phases (a request is sent late only when the client itself
    falls behind); then wait for every answer. One list of shots per phase. ``traces``: aiohttp
    trace configs for the client session (to time connection set-up, say)."""
    tasks: list[list[asyncio.Task[Shot]]] = []
    async with _session(connections, traces) as session:
        for rate, seconds in phases:
            tasks.append([])
            start = time.monotonic()
            for index in range(int(rate * seconds)):
                scheduled = start + index / rate
                delay = scheduled - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                tasks[-1].append(asyncio.create_task(_one(session, url, body, scheduled)))
            await asyncio.sleep(max(0.0, start + seconds - time.monotonic()))
        return [list(await asyncio.gather(*phase)) for phase in tasks]


def throughput(shots: Iterable[Shot]) -> float:
    """Successful answers per second over the span from the first send to the last answer."""
    shots = list(shots)
    good = [s for s in shots if s.ok]
    if not good:
        return 0.0
    span = max(s.done for s in shots) - min(s.sent for s in shots)
    return len(good) / span if span > 0 else 0.0


def percentile(values: Iterable[float], q: float) -> float:
    """The ``q``-th percentile (0-100, linear interpolation); NaN for no values."""
    values = list(values)
    return float(np.percentile(values, q)) if values else float("nan")

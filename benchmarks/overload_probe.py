"""Where an overload's slow refusals come from: one overload run with the load generator's own delays.

The reliability benchmark's overload scenario (half the capacity for 5 s, four times it for 5 s, half
again for 8 s, one open-loop schedule) against the same service, with three client-side figures
that tell the service's delay from the client's: how late each request was sent against its
schedule, how late the client's event loop ran a 10 ms timer, and how many connections the client
opened and how long each took. Refusals slower than 200 ms are counted by the half second in which
they were sent. One run, printed; a diagnostic, not a benchmark.

    nice -n -5 .venv/bin/python -m benchmarks.overload_probe [--work /tmp/relwork]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections import Counter
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aiohttp
import numpy as np

from benchmarks import scenarios
from benchmarks.loadgen import Shot, open_loop
from benchmarks.reliability import TWEET, running_service

PHASES_S = (5.0, 5.0, 8.0)
SLOW_S = 0.2


class Probe:
    """The overload's requests and the client's own delays."""

    def __init__(self) -> None:
        self.timer_lag: list[tuple[float, float]] = []
        self.connections: list[float] = []

    async def _ticker(self, stop: float) -> None:
        while time.monotonic() < stop:
            start = time.monotonic()
            await asyncio.sleep(0.01)
            self.timer_lag.append((start, time.monotonic() - start - 0.01))

    def _trace(self) -> aiohttp.TraceConfig:
        async def started(_: Any, context: SimpleNamespace, __: Any) -> None:
            context.connect_started = time.monotonic()

        async def ended(_: Any, context: SimpleNamespace, __: Any) -> None:
            self.connections.append(time.monotonic() - context.connect_started)

        trace = aiohttp.TraceConfig()
        trace.on_connection_create_start.append(started)
        trace.on_connection_create_end.append(ended)
        return trace

    async def run(self, url: str, rate: float) -> list[Shot]:
        """The overload phase's shots, the client's timer lag recorded meanwhile."""
        ticker = asyncio.create_task(self._ticker(time.monotonic() + sum(PHASES_S)))
        phases = await open_loop(url, TWEET, zip((rate / 2, rate * 4, rate / 2), PHASES_S),
                                 traces=[self._trace()])
        await ticker
        return phases[1]

    def report(self, heavy: list[Shot]) -> list[str]:
        begin = min(shot.scheduled for shot in heavy)
        refused = [shot for shot in heavy if shot.status in scenarios.REJECTIONS]
        lag = np.array([late for at, late in self.timer_lag if begin <= at < begin + PHASES_S[1]])

        def spread(values: Any) -> str:
            p50, p99, top = (1000 * np.percentile(values, q) for q in (50, 99, 100))
            return f"p50 {p50:.1f} / p99 {p99:.1f} / max {top:.1f} ms"

        slow = Counter(np.floor(2 * (shot.scheduled - begin)) / 2 for shot in refused
                       if shot.latency > SLOW_S)
        return [f"overload: {len(heavy)} requests, {len(refused)} refused",
                f"refusal latency: {spread([shot.latency for shot in refused])}",
                f"send lag (sent - scheduled): {spread([s.sent - s.scheduled for s in heavy])}",
                f"client event-loop lag (10 ms timer): {spread(lag)}",
                f"connections opened: {len(self.connections)}, set-up "
                + (spread(self.connections) if self.connections else "-"),
                "refusals slower than 200 ms by half second of sending (s into the overload: "
                "count): " + ", ".join(f"{t:.1f}: {n}" for t, n in sorted(slow.items()))]


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--work", type=Path, default=None,
                        help="keep (and reuse) the bundle here instead of a temporary folder")
    args = parser.parse_args()
    with running_service(args.work, "zhijian-probe-") as service:
        service.deploy(host_num_cpus=1.0, gateway_replicas=1)
        rate = scenarios.capacity(service.url, TWEET, clients=16, seconds=5.0)
        probe = Probe()
        heavy = asyncio.run(probe.run(service.url, rate))
    print(f"capacity {rate:.0f} answers/s", *probe.report(heavy), sep="\n")


if __name__ == "__main__":
    main()

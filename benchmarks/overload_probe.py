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
import tempfile
import time
from collections import Counter
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aiohttp
import numpy as np

from benchmarks import scenarios
from benchmarks.loadgen import CLIENT_TIMEOUT_S
from benchmarks.reliability import TWEET, Service
from benchmarks.serving_servers import prepare

PHASES_S = (5.0, 5.0, 8.0)
SLOW_S = 0.2


class Probe:
    """The overload's requests and the client's own delays."""

    def __init__(self) -> None:
        self.shots: list[tuple[float, float, float, int]] = []  # scheduled, sent, done, status
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

    async def run(self, url: str, rate: float) -> float:
        """Send the three phases; the schedule's start (monotonic seconds)."""
        rates = (rate / 2, rate * 4, rate / 2)
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=512),
                                         trace_configs=[self._trace()],
                                         timeout=aiohttp.ClientTimeout(total=CLIENT_TIMEOUT_S)
                                         ) as session:
            async def one(scheduled: float) -> None:
                sent = time.monotonic()
                async with session.post(url, data=TWEET,
                                        headers={"Content-Type": "application/json"}) as answer:
                    await answer.read()
                    self.shots.append((scheduled, sent, time.monotonic(), answer.status))

            begin = phase_start = time.monotonic()
            ticker = asyncio.create_task(self._ticker(begin + sum(PHASES_S)))
            tasks = []
            for phase_rate, seconds in zip(rates, PHASES_S):
                for index in range(int(phase_rate * seconds)):
                    scheduled = phase_start + index / phase_rate
                    delay = scheduled - time.monotonic()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    tasks.append(asyncio.create_task(one(scheduled)))
                phase_start += seconds
                await asyncio.sleep(max(0.0, phase_start - time.monotonic()))
            await asyncio.gather(*tasks, ticker)
            return begin

    def report(self, begin: float) -> list[str]:
        shots = np.array([(s - begin, sent - s, done - sent, status)
                          for s, sent, done, status in self.shots])
        start, end = PHASES_S[0], PHASES_S[0] + PHASES_S[1]
        heavy = (shots[:, 0] >= start) & (shots[:, 0] < end)
        refused = heavy & np.isin(shots[:, 3], scenarios.REJECTIONS)
        lag = np.array([late for at, late in self.timer_lag if start <= at - begin < end])

        def spread(values: np.ndarray) -> str:
            p50, p99, top = (1000 * np.percentile(values, q) for q in (50, 99, 100))
            return f"p50 {p50:.1f} / p99 {p99:.1f} / max {top:.1f} ms"

        slow = Counter(float(np.floor(2 * t) / 2) for t in shots[refused & (shots[:, 2] > SLOW_S), 0])
        return [f"overload: {int(heavy.sum())} requests, {int(refused.sum())} refused",
                f"refusal latency: {spread(shots[refused, 2])}",
                f"send lag (sent - scheduled): {spread(shots[heavy, 1])}",
                f"client event-loop lag (10 ms timer): {spread(lag)}",
                f"connections opened: {len(self.connections)}, set-up "
                + (spread(np.array(self.connections)) if self.connections else "-"),
                "refusals slower than 200 ms by half second of sending (s from the start: count): "
                + ", ".join(f"{t:.1f}: {n}" for t, n in sorted(slow.items()))]


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--work", type=Path, default=None,
                        help="keep (and reuse) the bundle here instead of a temporary folder")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="zhijian-probe-") as temporary:
        work = args.work or Path(temporary)
        work.mkdir(parents=True, exist_ok=True)
        prepare(work)
        service = Service(work)
        try:
            service.deploy(host_num_cpus=1.0, gateway_replicas=1)
            rate = scenarios.capacity(service.url, TWEET, clients=16, seconds=5.0)
            probe = Probe()
            begin = asyncio.run(probe.run(service.url, rate))
        finally:
            service.close()
    print(f"capacity {rate:.0f} answers/s", *probe.report(begin), sep="\n")


if __name__ == "__main__":
    main()

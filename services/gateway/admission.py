"""Admission control: per model, a bound on in-flight requests and on the queue they form; beyond
either, 429 with ``Retry-After``.

A fixed count alone is the wrong bound: 64 requests in flight are 0.2 s of work for a 3 ms model
and 2.4 s for a 37 ms one, so a slow model would queue seconds before refusing anyone, and keep
that backlog after an overload ends. So the gateway also measures each model's recent completion
rate and refuses a request when the ones already in flight would take longer than ``max_queue_s``
to drain at that rate (Little's law: wait = in flight / throughput). Below ``min_in_flight`` nothing
is refused, so a burst after an idle spell, when the measured rate says nothing yet, passes.
"""

from __future__ import annotations

import time
from collections import defaultdict, deque
from contextlib import asynccontextmanager
from typing import AsyncIterator, Callable

from services.errors import OverloadedError
from services.metrics import metrics

RATE_WINDOW_S = 2.0
"""Completions counted for the rate: those of the last ``RATE_WINDOW_S`` seconds."""
PEAK_HOLD_S = 10.0
"""How long the highest recent rate holds the bound up."""


class CompletionRate:
    """Completions per second over a sliding window, or the highest such rate of the last
    ``hold_s`` seconds when that is higher (one event loop; O(1) amortized).

    The hold keeps a stall (a replica killed, its requests retried elsewhere) from reading as a
    collapse of capacity: the bound stays where the model last proved it could answer, until
    ``hold_s`` passes without that rate being seen again.
    """

    def __init__(self, window_s: float = RATE_WINDOW_S, hold_s: float = PEAK_HOLD_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.window_s = window_s
        self.hold_s = hold_s
        self._clock = clock
        self._times: deque[float] = deque()
        self._peak = 0.0
        self._peak_at = -float("inf")

    def _current(self, now: float) -> float:
        while self._times and self._times[0] <= now - self.window_s:
            self._times.popleft()
        return len(self._times) / self.window_s

    def add(self) -> None:
        now = self._clock()
        self._times.append(now)
        rate = self._current(now)
        if rate >= self._peak or now - self._peak_at > self.hold_s:
            self._peak, self._peak_at = rate, now

    def per_second(self) -> float:
        now = self._clock()
        current = self._current(now)
        return max(current, self._peak) if now - self._peak_at <= self.hold_s else current


class Admission:
    """Per-model in-flight counters and completion rates (used from one event loop).

    Args:
        limit: Most requests in flight per model, whatever the rate.
        retry_after_s: ``Retry-After`` of the refusal.
        max_queue_s: Refuse when the requests in flight would take longer than this to drain at
            the model's measured completion rate (0: no such bound).
        min_in_flight: Never refuse below this many in flight.
        clock: Monotonic seconds (tests pass their own).
    """

    def __init__(self, limit: int, retry_after_s: int, max_queue_s: float = 0.0,
                 min_in_flight: int = 1, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.retry_after_s = retry_after_s
        self.max_queue_s = max_queue_s
        self.min_in_flight = min_in_flight
        self.in_flight: dict[str, int] = defaultdict(int)
        self.refused: dict[str, int] = defaultdict(int)
        self._rates: dict[str, CompletionRate] = defaultdict(lambda: CompletionRate(clock=clock))

    def _reason(self, model: str) -> str | None:
        """Why a new request of ``model`` is refused now, or ``None``."""
        waiting = self.in_flight[model]
        if waiting >= self.limit:
            return f"model '{model}' has {self.limit} requests in flight"
        if self.max_queue_s and waiting >= self.min_in_flight:
            rate = self._rates[model].per_second()
            if waiting >= rate * self.max_queue_s:
                return (f"model '{model}' has {waiting} requests in flight, more than "
                        f"{self.max_queue_s:g} s of work at its current {rate:.1f} answers/s")
        return None

    def check(self, model: str) -> None:
        """Refuse a new request of ``model`` now if its bound is reached (counted), else nothing.

        The gateway's middleware calls it from the request's path, before a byte of the body is
        read, so that under overload a refusal costs almost nothing; :meth:`slot` checks again.

        Raises:
            OverloadedError: The model's bound is reached.
        """
        reason = self._reason(model)
        if reason is not None:
            self.refused[model] += 1
            metrics().admission_rejections.labels(model).inc()
            raise OverloadedError(f"{reason}; retry later", self.retry_after_s)

    @asynccontextmanager
    async def slot(self, model: str) -> AsyncIterator[None]:
        """Hold one of ``model``'s slots for the block.

        Raises:
            OverloadedError: The model's bound is reached.
        """
        self.check(model)
        self.in_flight[model] += 1
        try:
            yield
        finally:
            self.in_flight[model] -= 1
            self._rates[model].add()

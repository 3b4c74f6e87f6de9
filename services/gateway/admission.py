"""Admission control: a bounded count of in-flight requests per model; beyond it, 429."""

from __future__ import annotations

from collections import defaultdict
from contextlib import asynccontextmanager
from typing import AsyncIterator

from services.errors import OverloadedError
from services.metrics import metrics


class Admission:
    """Per-model in-flight counters (used from one event loop).

    Args:
        limit: Requests in flight per model.
        retry_after_s: ``Retry-After`` of the refusal.
    """

    def __init__(self, limit: int, retry_after_s: int) -> None:
        self.limit = limit
        self.retry_after_s = retry_after_s
        self.in_flight: dict[str, int] = defaultdict(int)
        self.refused: dict[str, int] = defaultdict(int)

    @asynccontextmanager
    async def slot(self, model: str) -> AsyncIterator[None]:
        """Hold one of ``model``'s slots for the block.

        Raises:
            OverloadedError: All slots are taken.
        """
        if self.in_flight[model] >= self.limit:
            self.refused[model] += 1
            metrics().admission_rejections.labels(model).inc()
            raise OverloadedError(f"model '{model}' has {self.limit} requests in flight; retry later",
                                  self.retry_after_s)
        self.in_flight[model] += 1
        try:
            yield
        finally:
            self.in_flight[model] -= 1

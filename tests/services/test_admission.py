"""Admission control: the fixed in-flight bound, and the queue-time bound from the measured
completion rate (Little's law), on a fake clock."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack

import pytest

from services.errors import OverloadedError
from services.gateway.admission import Admission, CompletionRate


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_completion_rate_counts_the_window_and_holds_its_peak() -> None:
    clock = Clock()
    rate = CompletionRate(window_s=2.0, hold_s=3.0, clock=clock)
    for _ in range(10):
        rate.add()
        clock.now += 0.1
    assert rate.per_second() == pytest.approx(5.0)
    clock.now += 1.5  # half the completions fall out of the 2 s window: the peak holds
    assert rate.per_second() == pytest.approx(5.0)
    rate.add()
    clock.now += 1.5  # over 3 s after the peak: the window's own rate again
    assert rate.per_second() == pytest.approx(0.5)
    clock.now += 10
    assert rate.per_second() == 0.0


async def _hold(admission: Admission, count: int, stack: AsyncExitStack) -> None:
    for _ in range(count):
        await stack.enter_async_context(admission.slot("m"))


def test_fixed_limit_refuses_with_retry_after() -> None:
    async def scenario() -> None:
        admission = Admission(limit=3, retry_after_s=2)
        async with AsyncExitStack() as stack:
            await _hold(admission, 3, stack)
            with pytest.raises(OverloadedError) as refused:
                await _hold(admission, 1, stack)
            assert refused.value.retry_after_s == 2
        assert admission.in_flight["m"] == 0 and admission.refused["m"] == 1
    asyncio.run(scenario())


def test_queue_bound_follows_the_measured_rate() -> None:
    async def scenario() -> None:
        clock = Clock()
        admission = Admission(limit=1000, retry_after_s=1, max_queue_s=1.0, min_in_flight=4,
                              clock=clock)
        # 20 answers in the last 2 s: 10 answers/s, so 10 in flight are 1 s of work
        for _ in range(20):
            async with admission.slot("m"):
                clock.now += 0.1
        async with AsyncExitStack() as stack:
            await _hold(admission, 9, stack)  # 0.9 s of work: admitted
            with pytest.raises(OverloadedError, match="more than 1 s of work"):
                await _hold(admission, 2, stack)
            assert admission.in_flight["m"] == 10
        # idle for long (past the peak's hold): no rate, but min_in_flight requests always pass
        clock.now += 60
        async with AsyncExitStack() as stack:
            await _hold(admission, 4, stack)
            with pytest.raises(OverloadedError):
                await _hold(admission, 1, stack)
    asyncio.run(scenario())


def test_no_queue_bound_when_disabled() -> None:
    async def scenario() -> None:
        admission = Admission(limit=50, retry_after_s=1, max_queue_s=0.0, min_in_flight=1)
        async with AsyncExitStack() as stack:
            await _hold(admission, 50, stack)
    asyncio.run(scenario())

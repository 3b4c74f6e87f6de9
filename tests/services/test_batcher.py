"""The host's batcher: a lone request runs at once; what arrives while a batch runs forms the next
batch (up to the maximum); an optional wait fills a batch; failures and cancellations."""

from __future__ import annotations

import asyncio

import pytest

from services.host.batcher import Batcher


class Recorder:
    """A batch runner that records batch sizes and takes ``delay_s`` per batch."""

    def __init__(self, delay_s: float = 0.0, fail: bool = False) -> None:
        self.sizes: list[int] = []
        self.queued: list[float] = []
        self.delay_s = delay_s
        self.fail = fail

    async def __call__(self, items: list[int], queued: list[float]) -> list[int]:
        self.sizes.append(len(items))
        self.queued += queued
        await asyncio.sleep(self.delay_s)
        if self.fail:
            raise RuntimeError("session.run failed")
        return [item * 10 for item in items]


def test_a_lone_request_runs_at_once_and_arrivals_form_the_next_batch() -> None:
    async def scenario() -> None:
        runner = Recorder(delay_s=0.05)
        batcher = Batcher(runner, max_batch_size=4)
        first = asyncio.ensure_future(batcher.submit(0))
        await asyncio.sleep(0.01)  # the first batch (size 1) is running
        rest = [asyncio.ensure_future(batcher.submit(i)) for i in range(1, 7)]
        assert await first == 0
        assert await asyncio.gather(*rest) == [10, 20, 30, 40, 50, 60]
        assert runner.sizes == [1, 4, 2]  # arrivals during a batch wait for it, then go together
        assert runner.queued[0] < 0.01  # no wait for the lone one
        batcher.close()
    asyncio.run(scenario())


def test_a_wait_fills_a_batch() -> None:
    async def scenario() -> None:
        runner = Recorder()
        batcher = Batcher(runner, max_batch_size=8, wait_s=0.05)
        results = []
        for i in range(3):
            results.append(asyncio.ensure_future(batcher.submit(i)))
            await asyncio.sleep(0.005)
        assert await asyncio.gather(*results) == [0, 10, 20]
        assert runner.sizes == [3]
        batcher.close()
    asyncio.run(scenario())


def test_a_failed_batch_fails_its_requests_and_the_next_one_runs() -> None:
    async def scenario() -> None:
        runner = Recorder(fail=True)
        batcher = Batcher(runner, max_batch_size=4)
        with pytest.raises(RuntimeError, match="session.run failed"):
            await batcher.submit(1)
        runner.fail = False
        assert await batcher.submit(2) == 20
        batcher.close()
    asyncio.run(scenario())


def test_a_cancelled_request_is_skipped() -> None:
    async def scenario() -> None:
        runner = Recorder(delay_s=0.05)
        batcher = Batcher(runner, max_batch_size=4)
        first = asyncio.ensure_future(batcher.submit(0))
        await asyncio.sleep(0.01)
        gone = asyncio.ensure_future(batcher.submit(1))
        kept = asyncio.ensure_future(batcher.submit(2))
        await asyncio.sleep(0)
        gone.cancel()
        assert await first == 0 and await kept == 20
        assert runner.sizes == [1, 1]
        batcher.close()
    asyncio.run(scenario())


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="max_batch_size"):
        Batcher(Recorder(), max_batch_size=0)

"""Peak memory of a piece of work: work that reuses the pages an earlier piece freed still counts."""

from __future__ import annotations

import pytest
import torch

from zhijian_core.train.memory import PeakRss


def _small_tensors() -> int:
    tensors = [torch.ones(1000) for _ in range(20_000)]  # about 80 MiB in 4 KiB pieces
    return len(tensors)


@pytest.mark.timeout(60)
def test_a_repeated_piece_of_work_measures_the_same_peak() -> None:
    peaks = []
    for _ in range(2):
        with PeakRss() as memory:
            _small_tensors()
        peaks.append(memory.peak_mb)
    # Without handing the freed pages back first, the second piece read about 1 MiB.
    assert peaks[0] > 50 and peaks[1] > 0.6 * peaks[0]

"""Prometheus' ``increase()`` of a counter over raw samples, computed in Python.

The same arithmetic as Prometheus 2.42's ``extrapolatedRate`` (promql/functions.go) for float
counters: the difference between the last and the first sample in the range, counter resets
added back, then extrapolated towards the range's ends: fully when the first (last) sample lies
within 1.1 average sample intervals of its end, else by half an interval, and never to before the
counter's extrapolated zero. The range is ``[at - range, at]``, both ends included (as in 2.x).
"""

from __future__ import annotations

from tests.e2e_prometheus.server import Samples


def in_range(samples: Samples, at_ms: int, range_ms: int) -> Samples:
    """The samples a range selector of ``range_ms`` sees when evaluated at ``at_ms``."""
    return [(t, v) for t, v in samples if at_ms - range_ms <= t <= at_ms]


def increase(samples: Samples, at_ms: int, range_ms: int) -> float | None:
    """``increase(counter[range])`` at ``at_ms`` over ``samples``; ``None`` (no series) when the
    range holds fewer than two samples."""
    points = in_range(samples, at_ms, range_ms)
    if len(points) < 2:
        return None
    first_t, first_v = points[0]
    last_t, last_v = points[-1]
    result = last_v - first_v
    previous = first_v
    for _, value in points[1:]:
        if value < previous:  # a counter reset: what was counted before it still counts
            result += previous
        previous = value
    to_start = (first_t - (at_ms - range_ms)) / 1000
    to_end = (at_ms - last_t) / 1000
    sampled = (last_t - first_t) / 1000
    average = sampled / (len(points) - 1)
    if result > 0 and first_v >= 0:
        to_zero = sampled * (first_v / result)
        if to_zero < to_start:
            to_start = to_zero
    threshold = average * 1.1
    extrapolated = sampled
    extrapolated += to_start if to_start < threshold else average / 2
    extrapolated += to_end if to_end < threshold else average / 2
    return result * (extrapolated / sampled)

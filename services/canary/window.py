"""A model version's counts over a window: what both metrics sources produce, and the pure
arithmetic that turns them into the numbers a canary check compares.

The counts are those of the service's own metrics (:mod:`services.metrics.catalog`):

- runs: ``zhijian_inferences_total{model, version, outcome}`` (success, failure), counted by the
  model hosts for each version;
- end-to-end latency: ``zhijian_request_duration_seconds{model, version, route}``, the gateway's
  histogram of the answers a version gave (summed over the routes);
- dollars: ``zhijian_cost_dollars_total{model, version, device, basis}`` of one basis (summed over
  the devices);
- agreement with production: ``zhijian_shadow_agreement_ratio{model, version}``, when the version
  was the shadow.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

INFERENCES = "zhijian_inferences_total"
LATENCY_BUCKET = "zhijian_request_duration_seconds_bucket"
COST = "zhijian_cost_dollars_total"
AGREEMENT_SUM = "zhijian_shadow_agreement_ratio_sum"
AGREEMENT_COUNT = "zhijian_shadow_agreement_ratio_count"
SAMPLE_NAMES = (INFERENCES, LATENCY_BUCKET, COST, AGREEMENT_SUM, AGREEMENT_COUNT)
"""The sample names the sources read (as the classic text exposition names them)."""

Buckets = tuple[tuple[float, float], ...]
"""A histogram's buckets: (upper bound, cumulative count) in ascending order, ``+Inf`` last."""


@dataclass(frozen=True)
class Totals:
    """The counts of one model version: cumulative as read, or their increase over a window."""

    successes: float = 0.0
    """Runs that answered."""
    failures: float = 0.0
    """Runs that failed."""
    latency_buckets: Buckets = ()
    """End-to-end latency histogram of the version's answers, in seconds."""
    cost_dollars: float = 0.0
    """Dollars of one basis (usage or allocation)."""
    agreement_sum: float = 0.0
    """Sum of the agreement of the version's shadow answers with production's."""
    agreement_count: float = 0.0
    """Shadow answers compared."""

    @property
    def latency_count(self) -> float:
        """Answers in the latency histogram (its ``+Inf`` bucket)."""
        return self.latency_buckets[-1][1] if self.latency_buckets else 0.0

    def minus(self, earlier: "Totals") -> "Totals | None":
        """The increase since ``earlier``; ``None`` when a count went down (the counters were
        reset: the application restarted, and ``earlier`` counts another life)."""
        before = dict(earlier.latency_buckets)
        buckets = tuple((bound, count - before.get(bound, 0.0))
                        for bound, count in self.latency_buckets)
        scalars = (self.successes - earlier.successes, self.failures - earlier.failures,
                   self.cost_dollars - earlier.cost_dollars,
                   self.agreement_sum - earlier.agreement_sum,
                   self.agreement_count - earlier.agreement_count)
        if any(value < 0 for value in scalars) or any(count < 0 for _, count in buckets):
            return None
        if set(before) - {bound for bound, _ in self.latency_buckets}:
            return None  # a bucket vanished: not the same histogram
        return Totals(scalars[0], scalars[1], buckets, scalars[2], scalars[3], scalars[4])


@dataclass
class TotalsBuilder:
    """Adds samples up into :class:`Totals` (series of several routes, devices or processes)."""

    successes: float = 0.0
    failures: float = 0.0
    buckets: dict[float, float] = field(default_factory=dict)
    cost_dollars: float = 0.0
    agreement_sum: float = 0.0
    agreement_count: float = 0.0

    def add(self, name: str, labels: dict[str, str], value: float, basis: str) -> None:
        """Count one sample named ``name`` (one of :data:`SAMPLE_NAMES`; others are ignored);
        cost samples of another basis than ``basis`` are ignored."""
        if not math.isfinite(value):
            return
        if name == INFERENCES:
            if labels.get("outcome") == "success":
                self.successes += value
            elif labels.get("outcome") == "failure":
                self.failures += value
        elif name == LATENCY_BUCKET:
            bound = float(labels["le"])
            self.buckets[bound] = self.buckets.get(bound, 0.0) + value
        elif name == COST and labels.get("basis") == basis:
            self.cost_dollars += value
        elif name == AGREEMENT_SUM:
            self.agreement_sum += value
        elif name == AGREEMENT_COUNT:
            self.agreement_count += value

    def build(self) -> Totals:
        """The counts added so far."""
        return Totals(self.successes, self.failures, tuple(sorted(self.buckets.items())),
                      self.cost_dollars, self.agreement_sum, self.agreement_count)


def bucket_quantile(q: float, buckets: Buckets) -> float | None:
    """The ``q`` quantile of a histogram, as Prometheus' ``histogram_quantile`` computes it: linear
    interpolation inside the bucket holding the rank (the first bucket starts at 0), and the
    highest finite bound when the rank falls into ``+Inf``.

    Returns:
        The quantile, or ``None`` for an empty histogram (or one without ``+Inf``).
    """
    if not 0 <= q <= 1:
        raise ValueError(f"quantile {q} is outside 0-1")
    if len(buckets) < 2 or not math.isinf(buckets[-1][0]) or buckets[-1][1] <= 0:
        return None
    rank = q * buckets[-1][1]
    index = next(i for i, (_, count) in enumerate(buckets) if count >= rank)
    if index == len(buckets) - 1:
        return buckets[-2][0]
    upper, count = buckets[index]
    if index == 0 and upper <= 0:
        return upper
    lower, below = buckets[index - 1] if index > 0 else (0.0, 0.0)
    inside = count - below
    if inside <= 0:  # only with rank 0 (q = 0) in an empty first bucket
        return lower
    return lower + (upper - lower) * (rank - below) / inside

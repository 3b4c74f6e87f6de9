"""The single-machine metrics source: this node's multiprocess metric files, aggregated over every
replica process (the same aggregation as ``/metrics``), read at each evaluation.

The files hold cumulative counts; the source keeps its readings (timestamped by a monotonic clock)
for the length of the window and answers with the increase since the newest reading at least one
window old (or its oldest, while it is younger than the window). A count that went down means the
application restarted and its files were wiped: the readings from before are dropped.
"""

from __future__ import annotations

import time
from collections import deque
from typing import Any, Callable, Iterable

from services.canary.source import MetricsSourceError, Window
from services.canary.window import SAMPLE_NAMES, Totals, TotalsBuilder

Families = Iterable[Any]
"""``prometheus_client`` metric families (each with ``.samples``)."""


def node_families() -> Families:
    """Every metric family of this node (:func:`services.metrics.multiprocess.node_registry`)."""
    from services.metrics.multiprocess import node_registry

    return node_registry().collect()


def model_totals(families: Families, model: str, basis: str) -> dict[int, Totals]:
    """The cumulative counts of each version of ``model`` in ``families``.

    Args:
        families: Metric families, as a collector gives them.
        model: The model name.
        basis: Cost basis (``usage`` or ``allocation``).
    """
    builders: dict[int, TotalsBuilder] = {}
    for family in families:
        for sample in family.samples:
            labels = sample.labels
            version = labels.get("version", "")
            if sample.name not in SAMPLE_NAMES or labels.get("model") != model \
                    or not version.isdigit():
                continue
            builders.setdefault(int(version), TotalsBuilder()).add(sample.name, labels,
                                                                  float(sample.value), basis)
    return {version: builder.build() for version, builder in builders.items()}


Reading = tuple[float, dict[int, Totals]]


class NodeSource:
    """Windows of this node's counts.

    Args:
        basis: Cost basis (``usage`` or ``allocation``).
        families: Reads the metric families (default: this node's multiprocess files).
        guard: Called before each reading; raises :class:`MetricsSourceError` when the node's
            files cannot be the whole picture (the deployment checks the Ray cluster's nodes).
        clock: Monotonic seconds.
    """

    def __init__(self, basis: str = "usage", families: Callable[[], Families] = node_families,
                 guard: Callable[[], None] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.basis = basis
        self._families = families
        self._guard = guard
        self._clock = clock
        self._readings: dict[str, deque[Reading]] = {}

    def window(self, model: str, window_s: float) -> Window:
        """The increase of ``model``'s counts since the newest reading at least ``window_s`` old.

        Raises:
            MetricsSourceError: The guard refused, or the files could not be read.
        """
        if self._guard is not None:
            self._guard()
        try:
            current = model_totals(self._families(), model, self.basis)
        except (OSError, ValueError, KeyError) as exc:
            raise MetricsSourceError(f"cannot read this node's metric files: {exc}") from exc
        now = self._clock()
        readings = self._readings.setdefault(model, deque())
        while len(readings) > 1 and readings[1][0] <= now - window_s:
            readings.popleft()  # the second oldest is old enough to be the baseline
        baseline = readings[0] if readings else (now, current)
        increase = _increase(current, baseline[1])
        if increase is None:  # counters reset: start over from this reading
            readings.clear()
            baseline, increase = (now, current), _increase(current, current)
        readings.append((now, current))
        return Window(versions=increase or {}, covered_s=now - baseline[0])


def _increase(current: dict[int, Totals], earlier: dict[int, Totals]) -> dict[int, Totals] | None:
    """Each version's increase (a version absent from ``earlier`` counts from zero); ``None`` when
    any count went down."""
    found = {}
    for version, totals in current.items():
        increase = totals.minus(earlier.get(version, Totals()))
        if increase is None:
            return None
        found[version] = increase
    if set(earlier) - set(current):
        return None  # a version's series vanished: the files were wiped
    return found

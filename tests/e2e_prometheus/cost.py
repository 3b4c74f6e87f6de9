"""The recording rule of dollars per 1,000 inferences, recomputed in Python from the raw counters.

The rule (deploy/prometheus/rules/recording.yaml) is::

    sum by (model, version, basis) (increase(zhijian_cost_dollars_total[W]))
    / on (model, version) group_left ()
    (sum by (model, version) (increase(zhijian_inferences_total{outcome="success"}[W])) > 0)
    * 1000

:func:`per_1k` does the same arithmetic on the raw samples Prometheus holds for one model at one
evaluation time: ``increase`` in Python (:mod:`tests.e2e_prometheus.increase`), the sums, the
division by a positive count, the factor 1,000.

The rule engine may not have seen the newest scrape: Prometheus 2.42 stamps a scrape's samples
with the time the scrape started and stores them when it ends, and evaluates rules without a query
offset, so an evaluation at ``T`` that falls inside a scrape stamped just before ``T`` misses it.
:func:`unseen_scrape` says when that is possible, from the scrape's own
``scrape_duration_seconds``; the caller then also accepts the value without that scrape.
"""

from __future__ import annotations

import re
from collections import defaultdict

from tests.e2e_prometheus.increase import increase
from tests.e2e_prometheus.server import PrometheusServer, Samples

RULE = "model_version_basis:zhijian_cost_dollars_per_1k_inferences:ratio_rate5m"
TEMPLATE = ('sum by (model, version, basis) (increase(zhijian_cost_dollars_total[{w}])) '
            '/ on (model, version) group_left () '
            '(sum by (model, version) '
            '(increase(zhijian_inferences_total{{outcome="success"}}[{w}])) > 0) * 1000')
"""The rule's expression as :func:`per_1k` mirrors it (whitespace normalised)."""
UNITS_MS = {"s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
COMMIT_MARGIN_S = 0.25
"""Time between the end of a scrape's HTTP request and its samples being stored (appending, and
the rules evaluated before this one in its group): generous."""

Key = tuple[str, str]
"""(version, basis)."""


def window_of(expr: str) -> tuple[str, int]:
    """The range of the rule's ``expr`` (``"5m"``) and in milliseconds, after checking that
    ``expr`` is the expression :func:`per_1k` mirrors.

    Raises:
        AssertionError: The rule's expression changed; update this module with it.
    """
    normalised = " ".join(expr.split())
    found = re.search(r"\[(\d+)([smhd])\]", normalised)
    assert found, normalised
    window = found.group(1) + found.group(2)
    assert normalised == TEMPLATE.format(w=window), (
        f"the rule changed, update tests/e2e_prometheus/cost.py to mirror it:\n{normalised}")
    return window, int(found.group(1)) * UNITS_MS[found.group(2)]


def raw(prometheus: PrometheusServer, selector: str, window: str,
        at_ms: int) -> list[tuple[dict[str, str], Samples]]:
    """The raw samples of ``selector`` over ``window`` at ``at_ms``."""
    return prometheus.samples(f"{selector}[{window}]", at_ms / 1000)


def per_1k(cost: list[tuple[dict[str, str], Samples]],
           inferences: list[tuple[dict[str, str], Samples]], at_ms: int, range_ms: int,
           before_ms: int | None = None) -> dict[Key, float]:
    """Dollars per 1,000 successful inferences by (version, basis), as the rule computes them at
    ``at_ms``, from the raw samples (only those stamped before ``before_ms`` when given)."""
    def increases(series: list[tuple[dict[str, str], Samples]]):
        for labels, samples in series:
            kept = [s for s in samples if before_ms is None or s[0] < before_ms]
            value = increase(kept, at_ms, range_ms)
            if value is not None:
                yield labels, value

    dollars: dict[Key, float] = defaultdict(float)
    for labels, value in increases(cost):
        dollars[(labels["version"], labels["basis"])] += value
    counted: dict[str, float] = defaultdict(float)
    for labels, value in increases(inferences):
        counted[labels["version"]] += value
    return {(version, basis): total / counted[version] * 1000
            for (version, basis), total in dollars.items() if counted.get(version, 0) > 0}


def unseen_scrape(prometheus: PrometheusServer, job: str, window: str, at_ms: int,
                  newest_ms: int) -> bool:
    """Whether the scrape stamped ``newest_ms`` may have been stored after the evaluation at
    ``at_ms`` started (so the rule did not see it)."""
    durations = raw(prometheus, f'scrape_duration_seconds{{job="{job}"}}', window, at_ms)
    took = {t: v for _, samples in durations for t, v in samples}
    return newest_ms + (took.get(newest_ms, 1.0) + COMMIT_MARGIN_S) * 1000 > at_ms

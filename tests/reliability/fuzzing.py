"""Running a property over a bounded, deterministic number of Hypothesis examples and counting
the outcomes (the counts are printed: ``pytest -s`` shows them)."""

from __future__ import annotations

import os
from collections import Counter
from datetime import timedelta
from typing import Callable, TypeVar

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

T = TypeVar("T")

FAST_EXAMPLES = int(os.environ.get("ZHIJIAN_FUZZ_EXAMPLES", "300"))
"""Examples per kind of request in ``make test`` (``ZHIJIAN_FUZZ_EXAMPLES`` overrides)."""
SOAK_EXAMPLES = 2000
"""Examples per kind of request in ``make soak`` (the issue's floor)."""


def fuzz(name: str, strategy: st.SearchStrategy[T], check: Callable[[T], str], examples: int,
         deadline_s: float = 5.0) -> Counter[str]:
    """Run ``check`` on ``examples`` values drawn from ``strategy``, derandomized (the same values
    on every run) with no example database; each value must pass within ``deadline_s``.

    Args:
        name: What is fuzzed, for the printed count.
        strategy: Where the values come from.
        check: Asserts the property of one value and names its outcome (``"200"``, ``"refused"`` ...).
        examples: How many values to draw.
        deadline_s: Longest time one value may take (a hang fails the run).

    Returns:
        The outcomes and how often each came.
    """
    outcomes: Counter[str] = Counter()

    @settings(max_examples=examples, derandomize=True, database=None,
              deadline=timedelta(seconds=deadline_s),
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                     HealthCheck.large_base_example, HealthCheck.filter_too_much])
    @given(strategy)
    def run(value: T) -> None:
        outcomes[check(value)] += 1

    run()
    print(f"\n{name}: {sum(outcomes.values())} fuzzed requests, outcomes {dict(sorted(outcomes.items()))}")
    return outcomes

"""The Python ``increase()`` and cost per 1,000 inferences of the end-to-end test, on hand-made
samples with values computed by hand (the end-to-end test also compares ``increase()`` with
Prometheus' own on real samples)."""

from __future__ import annotations

import pytest

from tests.e2e_prometheus.cost import TEMPLATE, per_1k, window_of
from tests.e2e_prometheus.increase import increase

AT = 100_000  # ms
RANGE = 60_000


def test_a_counter_that_starts_inside_the_range_is_extrapolated_to_its_zero_only() -> None:
    # 10 -> 40 over 3 s, one sample a second; the range starts 57 s earlier, so the start is
    # extrapolated to the counter's zero: 3 s * 10 / 30 = 1 s; the end (1 s away, under 1.1
    # intervals) fully. 30 * (3 + 1 + 1) / 3 = 50.
    samples = [(96_000, 10.0), (97_000, 20.0), (98_000, 30.0), (99_000, 40.0)]
    assert increase(samples, AT, RANGE) == pytest.approx(50.0, rel=1e-12)


def test_ends_far_from_the_samples_get_half_an_interval() -> None:
    # 0 -> 20 over 2 s; the start is at zero already (no extrapolation), the end 5 s away: half
    # an interval (0.5 s). 20 * (2 + 0 + 0.5) / 2 = 25.
    samples = [(93_000, 0.0), (94_000, 10.0), (95_000, 20.0)]
    assert increase(samples, AT, RANGE) == pytest.approx(25.0, rel=1e-12)


def test_a_reset_is_added_back_and_one_sample_is_no_series() -> None:
    # 5 -> 8, reset to 2, -> 6: 6 - 5 + 8 = 9 over 3 s; to zero: 3 * 5 / 9 = 1.67 s, over 1.1
    # intervals: half an interval at the start; the end at 0 s. 9 * (3 + 0.5 + 0) / 3 = 10.5.
    samples = [(97_000, 5.0), (98_000, 8.0), (99_000, 2.0), (100_000, 6.0)]
    assert increase(samples, AT, RANGE) == pytest.approx(10.5, rel=1e-12)
    assert increase(samples[:1], AT, RANGE) is None
    assert increase(samples, AT, 500) is None  # one sample in the last half second


def test_cost_per_1k_sums_devices_divides_by_successes_and_can_drop_the_newest_scrape() -> None:
    times = [97_000, 98_000, 99_000]
    cost = [({"version": "1", "basis": "usage", "device": "cpu"},
             list(zip(times, [0.0, 1.0, 2.0]))),
            ({"version": "1", "basis": "usage", "device": "gpu"},
             list(zip(times, [0.0, 0.5, 1.0]))),
            ({"version": "2", "basis": "usage", "device": "cpu"},
             list(zip(times, [0.0, 0.0, 0.0])))]
    answered = [({"version": "1"}, list(zip(times, [0.0, 100.0, 200.0]))),
                ({"version": "2"}, list(zip(times, [0.0, 0.0, 0.0])))]
    # v1: (3 + 1.5) dollars / 300 inferences * 1000 (every increase extrapolated by 1.5); v2
    # answered nothing: no series, as the rule's "> 0" leaves it out
    assert per_1k(cost, answered, AT, RANGE) == {("1", "usage"): pytest.approx(15.0)}
    # without the newest scrape the end is two intervals away: half an interval, factor 1.5 on
    # every series alike: (1 + 0.5) * 1.5 / (100 * 1.5) * 1000
    assert per_1k(cost, answered, AT, RANGE, before_ms=99_000) == {
        ("1", "usage"): pytest.approx(15.0)}
    assert per_1k(cost[:1], answered, AT, RANGE, before_ms=99_000) == {
        ("1", "usage"): pytest.approx(10.0)}


def test_the_mirrored_expression_is_checked() -> None:
    assert window_of(TEMPLATE.format(w="5m")) == ("5m", 300_000)
    with pytest.raises(AssertionError, match="the rule changed"):
        window_of(TEMPLATE.format(w="5m").replace("* 1000", "* 100"))

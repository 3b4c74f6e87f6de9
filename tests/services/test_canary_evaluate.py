"""The canary decision's pure parts, on hand-made numbers: Prometheus' bucket quantile, window
increases, each check's breach, pass and minimum-sample rule, and the decision with its promotion
streak."""

from __future__ import annotations

import math

import pytest
from pydantic import ValidationError

from services.canary import ArmStats, CanaryConfig, Totals, bucket_quantile, decide, evaluate
from services.canary.evaluate import (agreement_check, cost_check, error_ratio_check, p95_check)

INF = math.inf
CONFIG = CanaryConfig(min_samples=100, max_error_ratio_increase=0.01, max_p95_ratio=1.5,
                      p95_margin_ms=10, max_cost_ratio=1.5, min_agreement=0.95)


def arm(runs: float = 1000, failures: float = 0, p95_s: float | None = 0.010,
        cost_dollars: float = 0.002, agreement: float | None = None,
        agreement_samples: float = 0) -> ArmStats:
    """An arm whose every run answered (but ``failures``), with the given numbers."""
    return ArmStats(runs=runs, failures=failures, answers=runs - failures, p95_s=p95_s,
                    successes=runs - failures, cost_dollars=cost_dollars,
                    agreement=agreement, agreement_samples=agreement_samples)


# ---- the window arithmetic ----------------------------------------------------------------------

@pytest.mark.parametrize(("q", "buckets", "expected"), [
    # 100 answers: 50 up to 10 ms, 40 more up to 20 ms, 10 more up to 50 ms. Rank 95 falls into
    # (20, 50] ms, which holds ranks 90-100: 20 + 30 * (95 - 90) / 10 = 35 ms.
    (0.95, ((0.01, 50), (0.02, 90), (0.05, 100), (INF, 100)), 0.035),
    # rank 50 is the top of the first bucket, which starts at 0
    (0.5, ((0.01, 50), (0.02, 90), (0.05, 100), (INF, 100)), 0.01),
    (0.25, ((0.01, 50), (0.02, 90), (0.05, 100), (INF, 100)), 0.005),
    # rank beyond the highest finite bound: that bound, as Prometheus answers
    (0.95, ((0.01, 10), (0.02, 20), (INF, 100)), 0.02),
])
def test_the_bucket_quantile_interpolates_as_prometheus_does(q: float, buckets, expected: float
                                                              ) -> None:
    assert bucket_quantile(q, buckets) == pytest.approx(expected)


def test_no_quantile_without_answers_or_without_inf() -> None:
    assert bucket_quantile(0.95, ()) is None
    assert bucket_quantile(0.95, ((0.01, 0), (INF, 0))) is None
    assert bucket_quantile(0.95, ((0.01, 3), (0.02, 5))) is None
    with pytest.raises(ValueError, match="outside 0-1"):
        bucket_quantile(1.5, ((0.01, 3), (INF, 5)))


def test_a_window_is_the_increase_and_a_decrease_is_a_reset() -> None:
    earlier = Totals(successes=10, failures=1, latency_buckets=((0.01, 8), (INF, 11)),
                     cost_dollars=0.5, agreement_sum=3.0, agreement_count=4)
    later = Totals(successes=110, failures=6, latency_buckets=((0.01, 90), (INF, 116)),
                   cost_dollars=0.75, agreement_sum=7.5, agreement_count=9)
    window = later.minus(earlier)
    assert window == Totals(100, 5, ((0.01, 82), (INF, 105)), 0.25, 4.5, 5)
    stats = ArmStats.of(window)
    assert stats.error_ratio == pytest.approx(5 / 105)
    assert stats.cost_per_1k == pytest.approx(1000 * 0.25 / 100)
    assert stats.agreement == pytest.approx(0.9) and stats.answers == 105
    assert earlier.minus(later) is None  # counters went down: the application restarted
    assert Totals(latency_buckets=((INF, 5),)).minus(
        Totals(latency_buckets=((0.01, 1), (INF, 2)))) is None  # not the same histogram


# ---- each check ---------------------------------------------------------------------------------

def test_error_ratio_breaches_above_production_plus_the_increase() -> None:
    production = arm(failures=10)  # 1 %
    held = error_ratio_check(production, arm(failures=20), CONFIG)  # 2 %: exactly the limit
    assert (held.status, held.limit) == ("passed", pytest.approx(0.02))
    breached = error_ratio_check(production, arm(failures=21), CONFIG)
    assert (breached.status, breached.canary, breached.production) == ("breached", 0.021, 0.01)
    assert "above the limit 0.0200" in breached.detail


def test_p95_needs_both_the_ratio_and_the_margin() -> None:
    production = arm(p95_s=0.004)  # 4 ms: the limit is max(6 ms, 14 ms) = 14 ms
    assert p95_check(production, arm(p95_s=0.012), CONFIG).status == "passed"  # 3x, +8 ms
    breached = p95_check(production, arm(p95_s=0.015), CONFIG)
    assert (breached.status, breached.limit) == ("breached", pytest.approx(0.014))
    slow = arm(p95_s=0.100)  # 100 ms: the limit is max(150, 110) = 150 ms
    assert p95_check(slow, arm(p95_s=0.149), CONFIG).status == "passed"
    assert p95_check(slow, arm(p95_s=0.151), CONFIG).status == "breached"


def test_cost_per_1k_breaches_above_the_ratio() -> None:
    production = arm(cost_dollars=0.002)  # $0.002 per 1,000 runs
    assert cost_check(production, arm(cost_dollars=0.003), CONFIG).status == "passed"
    breached = cost_check(production, arm(cost_dollars=0.0031), CONFIG)
    assert (breached.status, breached.canary, breached.limit) == (
        "breached", pytest.approx(0.0031), pytest.approx(0.003))
    unpriced = cost_check(arm(cost_dollars=0), arm(cost_dollars=1), CONFIG)
    assert unpriced.status == "insufficient" and "no cost" in unpriced.detail


def test_agreement_applies_only_to_a_shadowed_canary() -> None:
    canary = arm(agreement=0.90, agreement_samples=500)
    not_shadowed = agreement_check(canary, shadowed=False, config=CONFIG)
    assert not_shadowed.status == "not_applicable" and "not the shadow" in not_shadowed.detail
    breached = agreement_check(canary, shadowed=True, config=CONFIG)
    assert (breached.status, breached.canary, breached.limit) == ("breached", 0.90, 0.95)
    assert agreement_check(arm(agreement=0.97, agreement_samples=500), True, CONFIG).status == \
        "passed"
    few = agreement_check(arm(agreement=0.1, agreement_samples=99), True, CONFIG)
    assert few.status == "insufficient"


@pytest.mark.parametrize("check", [error_ratio_check, p95_check, cost_check])
def test_too_few_samples_in_either_arm_is_never_a_breach(check) -> None:
    terrible = arm(runs=99, failures=90, p95_s=9.0, cost_dollars=50.0)
    for production, canary in ((arm(), terrible), (arm(runs=99), arm(runs=1000, failures=900))):
        result = check(production, canary, CONFIG)
        assert result.status == "insufficient" and "need 100 each" in result.detail


def test_a_null_threshold_turns_its_check_off() -> None:
    config = CONFIG.model_copy(update={"max_p95_ratio": None, "max_cost_ratio": None})
    verdict = evaluate(arm(), arm(p95_s=5.0, cost_dollars=9.0), False, config)
    assert verdict.state == "healthy"
    assert [c.status for c in verdict.checks] == ["passed", "not_applicable", "not_applicable",
                                                  "not_applicable"]


# ---- the verdict and the decision ---------------------------------------------------------------

def test_the_verdict_reports_every_check_and_the_breaches_in_order() -> None:
    verdict = evaluate(arm(), arm(failures=100, p95_s=0.5), False, CONFIG)
    assert verdict.state == "breached"
    assert [c.name for c in verdict.breached] == ["error_ratio", "p95_latency"]
    gate = verdict.breached[1].as_gate()
    assert (gate.name, gate.status) == ("p95_latency", "failed")
    assert gate.values["canary"] == 0.5 and gate.values["production"] == 0.01
    assert gate.values["canary_samples"] == 900
    assert [g.status for g in (c.as_gate() for c in verdict.checks)] == [
        "failed", "failed", "passed", "skipped"]


def test_too_few_samples_is_undecided_and_holds() -> None:
    verdict = evaluate(arm(), arm(runs=20, failures=20), False, CONFIG)
    assert verdict.state == "undecided"
    assert decide(verdict, 5.0, 100.0, CONFIG) == ("hold", None)


def test_promotion_needs_the_opt_in_and_an_unbroken_healthy_streak() -> None:
    healthy = evaluate(arm(), arm(), False, CONFIG)
    assert healthy.state == "healthy"
    assert decide(healthy, None, 100.0, CONFIG) == ("hold", 100.0)  # never without the opt-in
    assert decide(healthy, 100.0, 10_000.0, CONFIG) == ("hold", 100.0)
    promoting = CONFIG.model_copy(update={"auto_promote": True, "promote_after_s": 60})
    assert decide(healthy, None, 100.0, promoting) == ("hold", 100.0)  # the streak starts
    assert decide(healthy, 100.0, 159.0, promoting) == ("hold", 100.0)
    assert decide(healthy, 100.0, 160.0, promoting) == ("promote", 100.0)
    breached = evaluate(arm(), arm(failures=500), False, promoting)
    assert decide(breached, 100.0, 160.0, promoting) == ("rollback", None)


@pytest.mark.parametrize(("settings", "words"), [
    ({"window_s": 5, "interval_s": 10}, "must not exceed window_s"),
    ({"max_error_ratio_increase": None, "max_p95_ratio": None, "max_cost_ratio": None,
      "min_agreement": None}, "every check is off"),
    ({"max_p95_ratio": 0.5}, "max_p95_ratio"),
    ({"min_samples": 0}, "min_samples"),
    ({"prometheus_url": "prometheus:9090"}, "prometheus_url"),
    ({"windows": 30}, "windows"),
])
def test_bad_settings_are_refused_with_the_reason(settings: dict, words: str) -> None:
    with pytest.raises(ValidationError, match=words):
        CanaryConfig.model_validate(settings)

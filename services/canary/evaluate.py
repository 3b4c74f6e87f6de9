"""The canary decision as pure functions: the two arms' numbers over one window and the settings
in, each check's outcome with its evidence and the decision out. No I/O, no clock.

Checks, in the order they are reported (the first breached one names a rollback), each judged
only when both arms have ``min_samples`` samples of it:

- ``error_ratio``: failed runs over runs; breached when the canary's is above production's plus
  ``max_error_ratio_increase``;
- ``p95_latency``: p95 end-to-end latency of the answers, in seconds; breached when the canary's is
  above ``max(production × max_p95_ratio, production + p95_margin_ms)``;
- ``cost_per_1k``: dollars per 1,000 answered runs; breached above production's × ``max_cost_ratio``;
- ``agreement``: mean agreement of the canary's answers with production's (measured only when the
  canary version is also the shadow); breached below ``min_agreement``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from services.canary.config import CanaryConfig
from services.canary.window import Totals, bucket_quantile
from zhijian_core.registry.gates import GateResult

CheckName = Literal["error_ratio", "p95_latency", "cost_per_1k", "agreement"]
CheckStatus = Literal["breached", "passed", "insufficient", "not_applicable"]
Decision = Literal["hold", "rollback", "promote"]


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ArmStats(_Frozen):
    """One arm's numbers over the window."""

    runs: float = Field(ge=0)
    """Runs of the version (answered and failed)."""
    failures: float = Field(ge=0)
    answers: float = Field(ge=0)
    """Answers in the end-to-end latency histogram."""
    p95_s: float | None = None
    """95th percentile end-to-end latency in seconds (``None``: no answer)."""
    successes: float = Field(ge=0)
    cost_dollars: float = Field(ge=0)
    agreement_samples: float = Field(default=0.0, ge=0)
    """Shadow answers of the version compared with production's."""
    agreement: float | None = None
    """Their mean agreement (``None``: none compared)."""

    @property
    def error_ratio(self) -> float | None:
        """Failed runs over runs (``None``: no run)."""
        return self.failures / self.runs if self.runs else None

    @property
    def cost_per_1k(self) -> float | None:
        """Dollars per 1,000 answered runs (``None``: no answer)."""
        return 1000 * self.cost_dollars / self.successes if self.successes else None

    @classmethod
    def of(cls, totals: Totals) -> "ArmStats":
        """The numbers of a version's window counts."""
        return cls(runs=totals.successes + totals.failures, failures=totals.failures,
                   answers=totals.latency_count, p95_s=bucket_quantile(0.95, totals.latency_buckets),
                   successes=totals.successes, cost_dollars=totals.cost_dollars,
                   agreement_samples=totals.agreement_count,
                   agreement=(totals.agreement_sum / totals.agreement_count
                              if totals.agreement_count else None))


class CheckResult(_Frozen):
    """One check's outcome, with both arms' values and the limit they were held to."""

    name: CheckName
    status: CheckStatus
    production: float | None = None
    canary: float | None = None
    limit: float | None = None
    """The canary's limit (a maximum, or for agreement a minimum)."""
    samples: dict[str, float] = Field(default_factory=dict)
    """Samples of each arm the check looked at."""
    detail: str

    def as_gate(self) -> GateResult:
        """The outcome as a registry gate result, for the audit record's evidence."""
        status = {"breached": "failed", "passed": "passed"}.get(self.status, "skipped")
        values: dict[str, float | str | None] = {"production": self.production,
                                                 "canary": self.canary, "limit": self.limit}
        values.update({f"{arm}_samples": count for arm, count in self.samples.items()})
        return GateResult(name=self.name, status=status, detail=self.detail, values=values)


class Verdict(_Frozen):
    """Every check's outcome and what they add up to."""

    state: Literal["breached", "healthy", "undecided"]
    """``breached``: a check failed; ``healthy``: none failed, none lacked samples and one passed
    at least; ``undecided``: otherwise (too few samples)."""
    checks: list[CheckResult]

    @property
    def breached(self) -> list[CheckResult]:
        """The checks that failed, in report order."""
        return [c for c in self.checks if c.status == "breached"]


def _samples_missing(name: CheckName, production: float, canary: float,
                     needed: int, what: str) -> CheckResult | None:
    samples = {"production": production, "canary": canary}
    if min(production, canary) >= needed:
        return None
    return CheckResult(name=name, status="insufficient", samples=samples,
                       detail=f"too few {what} to judge: production {production:g}, canary "
                              f"{canary:g}, need {needed} each")


def _off(name: CheckName) -> CheckResult:
    return CheckResult(name=name, status="not_applicable", detail="turned off (threshold null)")


def error_ratio_check(production: ArmStats, canary: ArmStats, config: CanaryConfig) -> CheckResult:
    """The canary's error ratio not above production's plus ``max_error_ratio_increase``."""
    if config.max_error_ratio_increase is None:
        return _off("error_ratio")
    missing = _samples_missing("error_ratio", production.runs, canary.runs, config.min_samples,
                               "runs")
    if missing is not None:
        return missing
    ours, theirs = canary.error_ratio or 0.0, production.error_ratio or 0.0
    limit = theirs + config.max_error_ratio_increase
    breached = ours > limit
    return CheckResult(name="error_ratio", status="breached" if breached else "passed",
                       production=theirs, canary=ours, limit=limit,
                       samples={"production": production.runs, "canary": canary.runs},
                       detail=f"error ratio {ours:.4f} (canary) vs {theirs:.4f} (production): "
                              f"{'above' if breached else 'within'} the limit {limit:.4f}")


def p95_check(production: ArmStats, canary: ArmStats, config: CanaryConfig) -> CheckResult:
    """The canary's p95 latency not above ``max(production × ratio, production + margin)``."""
    if config.max_p95_ratio is None:
        return _off("p95_latency")
    missing = _samples_missing("p95_latency", production.answers, canary.answers,
                               config.min_samples, "answers")
    if missing is not None:
        return missing
    ours, theirs = canary.p95_s or 0.0, production.p95_s or 0.0
    limit = max(theirs * config.max_p95_ratio, theirs + config.p95_margin_ms / 1000)
    breached = ours > limit
    return CheckResult(name="p95_latency", status="breached" if breached else "passed",
                       production=theirs, canary=ours, limit=limit,
                       samples={"production": production.answers, "canary": canary.answers},
                       detail=f"p95 {ours * 1000:.1f} ms (canary) vs {theirs * 1000:.1f} ms "
                              f"(production): {'above' if breached else 'within'} the limit "
                              f"{limit * 1000:.1f} ms")


def cost_check(production: ArmStats, canary: ArmStats, config: CanaryConfig) -> CheckResult:
    """The canary's cost per 1,000 inferences not above production's × ``max_cost_ratio``."""
    if config.max_cost_ratio is None:
        return _off("cost_per_1k")
    missing = _samples_missing("cost_per_1k", production.successes, canary.successes,
                               config.min_samples, "answered runs")
    if missing is not None:
        return missing
    ours, theirs = canary.cost_per_1k or 0.0, production.cost_per_1k or 0.0
    samples = {"production": production.successes, "canary": canary.successes}
    if theirs <= 0:
        return CheckResult(name="cost_per_1k", status="insufficient", production=theirs,
                           canary=ours, samples=samples,
                           detail="production has no cost in the window yet (the cost meter "
                                  "accounts once a second)")
    limit = theirs * config.max_cost_ratio
    breached = ours > limit
    return CheckResult(name="cost_per_1k", status="breached" if breached else "passed",
                       production=theirs, canary=ours, limit=limit, samples=samples,
                       detail=f"${ours:.3g} per 1k (canary) vs ${theirs:.3g} (production, "
                              f"{config.cost_basis} basis): {'above' if breached else 'within'} "
                              f"the limit ${limit:.3g}")


def agreement_check(canary: ArmStats, shadowed: bool, config: CanaryConfig) -> CheckResult:
    """The canary's mean agreement with production not below ``min_agreement``, when the canary
    version is also the shadow (its answers are then compared with production's)."""
    if config.min_agreement is None:
        return _off("agreement")
    if not shadowed:
        return CheckResult(name="agreement", status="not_applicable",
                           detail="not applicable: the canary version is not the shadow, so its "
                                  "answers are not compared with production's")
    samples = {"canary": canary.agreement_samples}
    if canary.agreement_samples < config.min_samples:
        return CheckResult(name="agreement", status="insufficient", samples=samples,
                           detail=f"too few compared shadow answers to judge: "
                                  f"{canary.agreement_samples:g}, need {config.min_samples}")
    ours = canary.agreement or 0.0
    breached = ours < config.min_agreement
    return CheckResult(name="agreement", status="breached" if breached else "passed", canary=ours,
                       limit=config.min_agreement, samples=samples,
                       detail=f"agreement with production {ours:.4f}: "
                              f"{'below' if breached else 'at least'} {config.min_agreement:.4f}")


def evaluate(production: ArmStats, canary: ArmStats, shadowed: bool,
             config: CanaryConfig) -> Verdict:
    """Judge the canary against production over one window.

    Args:
        production: The production version's numbers.
        canary: The canary version's numbers.
        shadowed: Whether the canary version is also the shadow (its agreement is measured).
        config: Thresholds and the minimum sample count.
    """
    checks = [error_ratio_check(production, canary, config), p95_check(production, canary, config),
              cost_check(production, canary, config), agreement_check(canary, shadowed, config)]
    statuses = {c.status for c in checks}
    if "breached" in statuses:
        state = "breached"
    elif "insufficient" not in statuses and "passed" in statuses:
        state = "healthy"
    else:
        state = "undecided"
    return Verdict(state=state, checks=checks)


def decide(verdict: Verdict, healthy_since: float | None, now: float,
           config: CanaryConfig) -> tuple[Decision, float | None]:
    """The controller's decision from a verdict and how long the canary has been healthy.

    Args:
        verdict: This window's verdict.
        healthy_since: When the canary's unbroken run of healthy verdicts began (``None``: the
            last verdict was not healthy).
        now: The time of this verdict (same clock as ``healthy_since``).
        config: ``auto_promote`` and ``promote_after_s``.

    Returns:
        ``rollback`` on a breach; ``promote`` when promotion is on and the canary has been healthy
        for ``promote_after_s``; ``hold`` otherwise; and the new ``healthy_since``.
    """
    if verdict.state == "breached":
        return "rollback", None
    if verdict.state != "healthy":
        return "hold", None
    since = now if healthy_since is None else healthy_since
    if config.auto_promote and now - since >= config.promote_after_s:
        return "promote", since
    return "hold", since


def describe(verdict: Verdict) -> str:
    """One line for the logs and the audit record's reason."""
    breached = verdict.breached
    if breached:
        return "; ".join(f"{c.name} breached: {c.detail}" for c in breached)
    return "; ".join(f"{c.name} {c.status.replace('_', ' ')}" for c in verdict.checks)

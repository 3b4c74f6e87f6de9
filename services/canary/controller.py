"""The canary controller: every ``interval_s`` it compares each served model's canary with its
production over the last ``window_s`` and rolls the canary back on a breach (or, opted in,
promotes it after ``promote_after_s`` of passing checks), through the registry's promotion code.

It never takes production down: an error while reading the registry or the metrics, or while
acting, is logged and the decision is ``hold``; a rollback only ever removes the canary.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Awaitable, Callable

from pydantic import BaseModel, ConfigDict, Field

from services.canary.config import CanaryConfig
from services.canary.evaluate import (ArmStats, CheckResult, Decision, Verdict, decide, describe,
                                      evaluate)
from services.canary.source import MetricsSource
from services.canary.window import Totals
from services.errors import ServiceError
from services.metrics import metrics
from zhijian_core.errors import GateError, ZhijianError

if TYPE_CHECKING:
    from zhijian_core.registry import Registry

ACTOR = "canary-controller"
"""Actor recorded in the audit trail for the controller's rollbacks and promotions."""
NO_CHECK = "none"
"""``check`` label of a decision that no breach caused."""
log = logging.getLogger("zhijian.canary")

Refresh = Callable[[str], Awaitable[None]]
"""Makes the gateways follow the registry for one model now."""


class Evaluation(BaseModel):
    """What the controller decided for one model at one evaluation."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str
    time: str
    """ISO 8601 (UTC)."""
    decision: Decision
    check: str = NO_CHECK
    """The first breached check of a rollback; ``none`` otherwise."""
    production_version: int | None = None
    canary_version: int | None = None
    covered_s: float = 0.0
    """Seconds the window's counts covered."""
    checks: list[CheckResult] = Field(default_factory=list)
    record_id: str | None = None
    """The audit record of a rollback or promotion carried out."""
    error: str | None = None
    """Why the controller held instead of judging or acting."""


@dataclass
class _Streak:
    canary_version: int
    healthy_since: float | None


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


class CanaryController:
    """Judges and acts on the canaries of ``models``.

    Args:
        models: The served model names.
        config: Thresholds, window, interval, promotion.
        registry: The model registry (aliases read, canaries rolled back or promoted).
        source: Where the windows come from.
        refresh: Makes the gateways follow the registry for a model at once after a change
            (``None``: they follow at their next poll).
        clock: Monotonic seconds (the promotion streak).
    """

    def __init__(self, models: list[str], config: CanaryConfig, registry: "Registry",
                 source: MetricsSource, refresh: Refresh | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.models = list(models)
        self.config = config
        self.registry = registry
        self.source = source
        self.last: dict[str, Evaluation] = {}
        """The latest evaluation of each model that has a canary."""
        self._refresh = refresh
        self._clock = clock
        self._streaks: dict[str, _Streak] = {}
        self._errors: dict[str, str] = {}

    async def run(self) -> None:
        """Evaluate every model each ``interval_s`` seconds, forever (cancel to stop)."""
        while True:
            started = self._clock()
            await self.evaluate_all()
            await asyncio.sleep(max(0.0, self.config.interval_s - (self._clock() - started)))

    async def evaluate_all(self) -> dict[str, Evaluation]:
        """One evaluation of every model that has a canary; errors become holds, logged."""
        done = {}
        for model in self.models:
            try:
                found = await self.evaluate(model)
            except Exception as exc:  # never let one model's trouble stop the controller
                found = self._held(model, exc)
            if found is not None:
                self.last[model] = done[model] = found
                metrics().canary_decisions.labels(model, found.decision, found.check).inc()
        return done

    def _held(self, model: str, exc: Exception) -> Evaluation:
        message = f"{type(exc).__name__}: {exc}"
        if self._errors.get(model) != message:  # once per distinct problem, not every interval
            if isinstance(exc, (ZhijianError, ServiceError)):
                log.warning("canary of '%s': holding: %s", model, message)
            else:
                log.exception("canary of '%s': holding after an unexpected error", model)
            self._errors[model] = message
        return Evaluation(model=model, time=_now(), decision="hold", error=message)

    async def evaluate(self, model: str) -> Evaluation | None:
        """Judge ``model``'s canary over the window and act on the decision.

        Returns:
            The evaluation, or ``None`` when the model has no canary (or the canary is the
            production version).

        Raises:
            Exception: Reading the registry or the metrics failed (the caller holds).
        """
        aliases = await asyncio.to_thread(self.registry.aliases, model)
        production, canary = aliases.get("production"), aliases.get("canary")
        if production is None or canary is None or canary == production:
            self._streaks.pop(model, None)
            return None
        window = await asyncio.to_thread(self.source.window, model, self.config.window_s)
        ours = ArmStats.of(window.versions.get(canary, Totals()))
        theirs = ArmStats.of(window.versions.get(production, Totals()))
        verdict = evaluate(theirs, ours, aliases.get("shadow") == canary, self.config)
        self._observe(model, theirs, ours)
        self._errors.pop(model, None)
        streak = self._streaks.get(model)
        since = streak.healthy_since if streak is not None and streak.canary_version == canary \
            else None
        decision, since = decide(verdict, since, self._clock(), self.config)
        self._streaks[model] = _Streak(canary, since)
        found = Evaluation(model=model, time=_now(), decision=decision,
                           production_version=production, canary_version=canary,
                           covered_s=round(window.covered_s, 3), checks=verdict.checks)
        if decision == "rollback":
            return await self._rollback(found, verdict)
        if decision == "promote":
            return await self._promote(found, ours)
        return found

    def _observe(self, model: str, production: ArmStats, canary: ArmStats) -> None:
        """Each check's value over the window, per arm, as gauges."""
        gauge = metrics().canary_observed
        for arm, stats in (("production", production), ("canary", canary)):
            values = {"error_ratio": stats.error_ratio, "p95_latency": stats.p95_s,
                      "cost_per_1k": stats.cost_per_1k}
            if arm == "canary":
                values["agreement"] = stats.agreement
            for check, value in values.items():
                if value is not None:
                    gauge.labels(model, arm, check).set(value)

    async def _rollback(self, found: Evaluation, verdict: Verdict) -> Evaluation:
        from zhijian_core.registry import promotion

        breached = verdict.breached
        reason = (f"automatic rollback of canary v{found.canary_version} (production "
                  f"v{found.production_version}) over {found.covered_s:.0f} s: {describe(verdict)}")
        try:
            decision = await asyncio.to_thread(
                promotion.abort_canary, self.registry, found.model, actor=ACTOR,
                reason=reason[:promotion.MAX_REASON_LENGTH],
                evidence=[c.as_gate() for c in verdict.checks], version=found.canary_version)
        except ZhijianError as exc:  # changed meanwhile, or the registry is down: judge again next
            return self._held(found.model, exc).model_copy(update={"checks": found.checks})
        log.warning("canary of '%s': %s", found.model, reason)
        await self._follow(found.model)
        return found.model_copy(update={"check": breached[0].name, "record_id": decision.record_id})

    async def _promote(self, found: Evaluation, canary: ArmStats) -> Evaluation:
        from zhijian_core.registry import CanaryEvidence, promotion

        evidence = None
        if canary.p95_s is not None and canary.error_ratio is not None:
            evidence = CanaryEvidence(p95_ms=canary.p95_s * 1000, error_ratio=canary.error_ratio,
                                      requests=int(canary.runs))
        reason = (f"automatic promotion of canary v{found.canary_version}: every check passed for "
                  f"{self.config.promote_after_s:g} s")
        try:
            decision = await asyncio.to_thread(
                promotion.promote, self.registry, found.model, found.canary_version, "production",
                actor=ACTOR, reason=reason, canary=evidence)
        except GateError as exc:
            log.warning("canary of '%s': the production gates refused v%s: %s", found.model,
                        found.canary_version, exc)
            return found.model_copy(update={"decision": "hold", "error": str(exc)})
        except ZhijianError as exc:
            return self._held(found.model, exc).model_copy(update={"checks": found.checks})
        log.warning("canary of '%s': %s", found.model, reason)
        self._streaks.pop(found.model, None)
        await self._follow(found.model)
        return found.model_copy(update={"record_id": decision.record_id})

    async def _follow(self, model: str) -> None:
        """Have the gateways follow the registry now (their poll catches up otherwise)."""
        if self._refresh is None:
            return
        try:
            await self._refresh(model)
        except Exception as exc:  # the change is committed; the gateways' poll applies it
            log.warning("canary of '%s': could not refresh the gateways (%s); they follow the "
                        "registry at their next poll", model, exc)

    def status(self) -> dict[str, object]:
        """The latest evaluation of each model, as JSON."""
        return {model: found.model_dump(mode="json") for model, found in self.last.items()}

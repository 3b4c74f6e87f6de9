"""Promotion and rollback: the one code path of the CLI and the service's admin API.

MLflow has no transactions, so a decision follows a protocol whose commit point is the single
``set_registered_model_alias`` call:

1. take the writer lock (a lock file beside the local store);
2. write an audit record in state ``pending`` (actor, time, reason, alias, target and prior version,
   gate evidence, forced);
3. for a canary, set the canary percent (a registered-model tag) first;
4. set the alias (the commit point);
5. mark the record ``committed``.

A writer killed anywhere leaves at most a ``pending`` record, which the next writer, a reader that
finds the lock free, or :func:`doctor` reconciles (see :mod:`zhijian_core.registry.audit`).

:func:`abort_canary` takes a canary out of traffic through the same steps: its record (kind
``canary_abort``, with the evidence) first, then the canary percent removed (the canary gets 0%),
then the alias removed (the commit point).
"""

from __future__ import annotations

import getpass
from contextlib import contextmanager
from typing import Callable, Iterator, Literal, Sequence

from pydantic import BaseModel, ConfigDict, Field

from zhijian_core.errors import (BundleError, GateError, ModelNotFoundError, PromotionError,
                                 ZhijianError)
from zhijian_core.names import check_alias, check_model_name, check_version
from zhijian_core.registry import audit
from zhijian_core.registry.audit import AuditRecord, Draft
from zhijian_core.registry.client import Registry
from zhijian_core.registry.gates import (CANARY, PRODUCTION, CanaryEvidence, GatePolicy, GateResult,
                                         digests_gate, evaluate_gates)
from zhijian_core.registry.tags import CANARY_PERCENT

STEP_LOCK, STEP_PENDING, STEP_CANARY_PERCENT, STEP_ALIAS, STEP_COMMIT = 1, 2, 3, 4, 5
"""Numbered steps of the commit protocol."""
MAX_REASON_LENGTH = 2000


def _no_crash(step: int) -> None:
    """Default test hook: do nothing."""


_crash_at: Callable[[int], None] = _no_crash
"""Test hook called with the step number before each step; tests set it to raise."""


class Decision(BaseModel):
    """The outcome of a promotion or rollback, with every gate's result."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str
    kind: Literal["promote", "rollback", "canary_abort"]
    alias: str
    version: int | None
    """Version the alias points at now (``None``: a canary abort removed it)."""
    prior_version: int | None
    """Version the alias pointed at before."""
    canary_percent: int | None = None
    state: Literal["committed", "refused"]
    forced: bool = False
    actor: str
    reason: str = ""
    time: str
    record_id: str
    """MLflow run id of the audit record."""
    gates: list[GateResult] = Field(default_factory=list)

    @property
    def failed_gates(self) -> list[GateResult]:
        """Gates that failed (forced through when ``state`` is ``committed``)."""
        return [g for g in self.gates if g.status == "failed"]


def default_actor() -> str:
    """The operating-system user name (``unknown`` when there is none)."""
    try:
        return getpass.getuser()
    except Exception:  # no user name in some containers
        return "unknown"


def _decision(record: AuditRecord, state: str) -> Decision:
    return Decision(model=record.model, kind=record.kind, alias=record.alias,
                    version=record.target_version, prior_version=record.prior_version,
                    canary_percent=record.canary_percent, state=state, forced=record.forced,
                    actor=record.actor, reason=record.reason, time=record.time,
                    record_id=record.record_id, gates=record.gates)


def _check_request(alias: str, percent: int | None, force: bool, reason: str) -> None:
    if alias == CANARY and percent is None:
        raise PromotionError("a canary needs its traffic percent: add --percent P (1-100)")
    if alias == CANARY and not 1 <= percent <= 100:
        raise PromotionError(f"canary percent {percent} is out of range: give 1-100")
    if alias != CANARY and percent is not None:
        raise PromotionError(f"--percent applies to the canary alias only, not to '{alias}'")
    if force and not reason.strip():
        raise PromotionError("--force needs --reason TEXT: a forced promotion is recorded with its reason")
    if len(reason) > MAX_REASON_LENGTH:
        raise PromotionError(f"the reason is {len(reason)} characters; keep it under {MAX_REASON_LENGTH}")


def _commit(registry: Registry, draft: Draft, gates: list[GateResult]) -> Decision:
    """Steps 2-5 of the protocol; the caller holds the writer lock (step 1). A draft without a
    target version (a canary abort) removes the canary percent, then the alias."""
    _crash_at(STEP_PENDING)
    what = f"{draft.kind} of '{draft.model}' to {draft.alias} -> {_target(draft.target_version)}"
    try:
        record = audit.write(registry, draft, gates, "pending")
    except Exception as exc:
        raise PromotionError(f"{what}: could not write the audit record ({exc}); nothing changed") \
            from exc
    try:
        if record.alias == CANARY:
            _crash_at(STEP_CANARY_PERCENT)
            registry.set_model_tag(record.model, CANARY_PERCENT, None if record.canary_percent is None
                                   else str(record.canary_percent))
        _crash_at(STEP_ALIAS)
        if record.target_version is None:
            registry.delete_alias(record.model, record.alias)
        else:
            registry.set_alias(record.model, record.alias, record.target_version)
        _crash_at(STEP_COMMIT)
        record = audit.set_state(registry, record, "committed")
    except Exception as exc:
        try:
            settled = audit.reconcile(registry, record).state
        except Exception:  # the store is failing; doctor settles the record later
            settled = "pending"
        raise PromotionError(f"{what} failed: {exc}; the audit record is {settled}") from exc
    return _decision(record, "committed")


@contextmanager
def _writer(registry: Registry, name: str) -> Iterator[None]:
    """Step 1 of the protocol: the writer lock, with any ``pending`` record of ``name`` settled."""
    _crash_at(STEP_LOCK)
    with registry.writer_lock():
        audit.reconcile_pending(registry, name)
        yield


def _target(version: int | None) -> str:
    return "unset" if version is None else f"v{version}"


def promote(registry: Registry, name: str, version: int | str, alias: str, percent: int | None = None,
            force: bool = False, reason: str = "", actor: str | None = None,
            canary: CanaryEvidence | None = None, policy: GatePolicy = GatePolicy(),
            checks: Sequence[GateResult] = ()) -> Decision:
    """Point ``alias`` of model ``name`` at ``version`` if its gates pass (or ``force``).

    A bundle whose digests do not verify is refused whatever ``force`` says, and the refusal is
    recorded like any other.

    Args:
        registry: The registry.
        name: Model name.
        version: Version to promote.
        alias: ``production``, ``canary`` (needs ``percent``), ``shadow`` or a team alias (``poc``).
        percent: Canary traffic percent, 1-100.
        force: Promote although gates failed; needs a ``reason``; recorded.
        reason: Why, recorded in the audit trail.
        actor: Who decides; defaults to the operating-system user.
        canary: The service's measurement of the version as canary, for the production gate.
        policy: Gate thresholds.
        checks: Gates evaluated by the caller and recorded with the others (the service's
            ``serving_warmup``: the version loaded and warmed up on a model host).

    Raises:
        GateError: A gate failed and ``force`` is false (the refusal is recorded; ``.decision``).
        PromotionError: A bad request, or the store failed mid-protocol.
    """
    name, alias, version = check_model_name(name), check_alias(alias), check_version(version)
    _check_request(alias, percent, force, reason)
    actor = actor or default_actor()
    with _writer(registry, name):
        aliases = registry.aliases(name)
        try:
            version, _, manifest = registry.resolve_verified(name, version)
        except BundleError as exc:  # tampered or unreadable: refused and recorded, never forced
            draft = Draft(model=name, kind="promote", alias=alias, target_version=int(version),
                          prior_version=aliases.get(alias), canary_percent=percent,
                          actor=actor, reason=reason, forced=False)
            failed = GateResult(name="digests", status="failed", detail=str(exc))
            record = audit.write(registry, draft, [failed], "refused")
            raise GateError(f"promotion of '{name}' v{version} to {alias} refused: {exc}",
                            _decision(record, "refused")) from exc
        production = aliases.get(PRODUCTION)
        served = any(r.state == "committed" and r.alias == CANARY and r.target_version == version
                     for r in audit.records(registry, name))
        gates = evaluate_gates(alias, version, manifest, production,
                               registry.version_tags(name, production) if production else None,
                               served, canary, policy) + list(checks)
        draft = Draft(model=name, kind="promote", alias=alias, target_version=version,
                      prior_version=aliases.get(alias), canary_percent=percent,
                      prior_canary_percent=registry.canary_percent(name) if alias == CANARY else None,
                      actor=actor, reason=reason, forced=force)
        failed = [g for g in gates if g.status == "failed"]
        if failed and not force:
            record = audit.write(registry, draft, gates, "refused")
            listing = "; ".join(f"{g.name}: {g.detail}" for g in failed)
            raise GateError(f"promotion of '{name}' v{version} to {alias} refused: {listing} "
                            "(--force --reason TEXT overrides)", _decision(record, "refused"))
        return _commit(registry, draft, gates)


def rollback_target(records: list[AuditRecord], current: int) -> int | None:
    """The production version before ``current``, replaying the committed production records.

    Promotions push their target; a rollback pops what it rolled back from. The answer is the top
    of that stack once the entries equal to ``current`` are removed from its top.
    """
    stack: list[int] = []
    for record in records:
        if record.alias != PRODUCTION or record.state != "committed":
            continue
        if record.kind == "rollback":
            while stack and stack[-1] == record.prior_version:
                stack.pop()
            if not stack or stack[-1] != record.target_version:
                stack.append(record.target_version)
        else:
            stack.append(record.target_version)
    while stack and stack[-1] == current:
        stack.pop()
    return stack[-1] if stack else None


def rollback(registry: Registry, name: str, actor: str | None = None, reason: str = "") -> Decision:
    """Return ``production`` of ``name`` to the version it had before the current one, audited.

    Raises:
        PromotionError: No production alias, or no earlier committed production version.
    """
    name = check_model_name(name)
    _check_request(PRODUCTION, None, False, reason)
    actor = actor or default_actor()
    with _writer(registry, name):
        current = registry.aliases(name).get(PRODUCTION)
        if current is None:
            raise PromotionError(f"model '{name}' has no production alias to roll back")
        target = rollback_target(audit.records(registry, name), current)
        if target is None:
            raise PromotionError(f"model '{name}': no committed production version before v{current} "
                                 "to roll back to ('zhijian history' shows the trail)")
        registry.resolve_verified(name, target)
        gates = [digests_gate(target),
                 GateResult(name="rollback", status="skipped",
                            detail=f"v{target} was committed to production before; gates not re-run")]
        draft = Draft(model=name, kind="rollback", alias=PRODUCTION, target_version=target,
                      prior_version=current, actor=actor, reason=reason)
        return _commit(registry, draft, gates)


def abort_canary(registry: Registry, name: str, actor: str | None = None, reason: str = "",
                 evidence: list[GateResult] | None = None, version: int | None = None) -> Decision:
    """Take the canary of ``name`` out of traffic: its percent and its alias removed, audited.

    The record (kind ``canary_abort``) is written ``pending`` first and holds ``evidence``, the
    checks that led to the decision with their measured values; the canary percent is removed
    (the canary gets 0% of the traffic), then the alias (the commit point).

    Args:
        registry: The registry.
        name: Model name.
        actor: Who decides (the canary controller records ``canary-controller``); defaults to the
            operating-system user.
        reason: Why, recorded in the audit trail.
        evidence: The checks behind the decision (failed ones with their numbers).
        version: Abort only if the canary is still this version (a decision about version 3 must
            not take out a version 4 promoted meanwhile).

    Raises:
        PromotionError: No canary, or the canary is not ``version``.
    """
    name = check_model_name(name)
    _check_request(PRODUCTION, None, False, reason)
    actor = actor or default_actor()
    with _writer(registry, name):
        current = registry.aliases(name).get(CANARY)
        if current is None:
            raise PromotionError(f"model '{name}' has no canary to abort")
        if version is not None and current != version:
            raise PromotionError(f"model '{name}': the canary is v{current}, not v{version}; "
                                 "nothing changed")
        draft = Draft(model=name, kind="canary_abort", alias=CANARY, target_version=None,
                      prior_version=current, canary_percent=None,
                      prior_canary_percent=registry.canary_percent(name), actor=actor,
                      reason=reason)
        return _commit(registry, draft, list(evidence or []))


def history(registry: Registry, name: str) -> list[AuditRecord]:
    """The audit trail of ``name``, oldest first; ``pending`` records are reconciled when no writer
    holds the lock (a ``pending`` record in the answer is a promotion in progress)."""
    name = check_model_name(name)
    found = audit.records(registry, name)
    if not found and not registry.exists(name):
        raise ModelNotFoundError(f"no registered model '{name}' and no audit record of it; "
                                 "'zhijian registry list' shows the registered models")
    if all(r.state != "pending" for r in found):
        return found
    lock = registry.writer_lock()
    if lock.try_acquire():
        try:
            audit.reconcile_pending(registry, name)
        finally:
            lock.release()
    return audit.records(registry, name)


class DoctorReport(BaseModel):
    """What :func:`doctor` reconciled and found."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    models: list[str]
    """Models checked."""
    reconciled: list[AuditRecord]
    """``pending`` records settled, with their new state."""
    problems: list[str]
    """Inconsistencies left for a person to look at."""

    @property
    def ok(self) -> bool:
        """Whether no problem was found."""
        return not self.problems


def _check_model(registry: Registry, name: str) -> list[str]:
    problems = []
    info = registry.show(name)
    if CANARY in info.aliases and info.canary_percent is None:
        problems.append(f"{name}: canary -> v{info.aliases[CANARY]} has no canary percent tag")
    if CANARY not in info.aliases and info.canary_percent is not None:
        problems.append(f"{name}: canary percent {info.canary_percent} is set but no canary alias")
    last: dict[str, int | None] = {}
    for record in audit.records(registry, name):
        if record.state == "committed":
            last[record.alias] = record.target_version
    for alias, version in sorted(info.aliases.items()):
        if alias in last and last[alias] != version:
            problems.append(f"{name}: {alias} -> v{version}, but its last committed record says "
                            f"{_target(last[alias])} (moved outside zhijian?)")
        try:
            registry.resolve(name, version)
        except ZhijianError as exc:
            problems.append(f"{name}: {alias} -> v{version}: {exc}")
    return problems


def doctor(registry: Registry, name: str | None = None) -> DoctorReport:
    """Reconcile ``pending`` records and check aliases, canary percent and aliased bundles.

    Args:
        registry: The registry.
        name: One model, or every registered or audited model when ``None``.
    """
    with registry.writer_lock():
        if name is not None:
            names = [check_model_name(name)]
            if not registry.exists(name) and not audit.records(registry, name):
                raise ModelNotFoundError(f"no registered model '{name}' and no audit record of it")
        else:
            names = sorted({m.name for m in registry.list_models()}
                           | {r.model for r in audit.records(registry)})
        reconciled = [r for n in names for r in audit.reconcile_pending(registry, n)]
        problems = [p for n in names if registry.exists(n) for p in _check_model(registry, n)]
    return DoctorReport(models=names, reconciled=reconciled, problems=problems)

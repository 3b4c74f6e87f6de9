"""The audit trail: one MLflow run per promotion decision, in the ``zhijian-audit`` experiment.

A record is written ``pending`` before the alias moves and marked ``committed`` after; a refused
promotion is written ``refused``. A ``pending`` record left by a writer that died is reconciled under
the writer lock: ``committed`` when the alias points at its target (and, for a canary, the canary
percent is the record's), ``aborted`` otherwise, restoring the prior canary percent. A canary abort
(kind ``canary_abort``) has no target: its alias and percent are removed, so it is ``committed``
when the canary alias is unset.
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field

from zhijian_core.errors import ModelNotFoundError, RegistryError
from zhijian_core.registry.gates import CANARY, GateResult
from zhijian_core.registry.tags import CANARY_PERCENT

if TYPE_CHECKING:
    from zhijian_core.registry.client import Registry

AUDIT_EXPERIMENT = "zhijian-audit"
"""Experiment holding one run per promotion decision."""
AuditState = Literal["pending", "committed", "aborted", "refused"]
AuditKind = Literal["promote", "rollback", "canary_abort"]
"""``promote`` and ``rollback`` point an alias at a version; ``canary_abort`` takes the canary out
of traffic (alias and percent removed)."""
_T = "zhijian.audit."
_RUN_STATUS = {"committed": "FINISHED", "aborted": "KILLED", "refused": "FAILED"}


class Draft(BaseModel):
    """What a decision records before it is written."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str
    kind: AuditKind
    alias: str
    target_version: int | None
    """Version the alias points at after the decision (``None``: the alias is removed)."""
    prior_version: int | None
    """Version the alias pointed at before (``None``: unset)."""
    canary_percent: int | None = None
    """Traffic percent set with a ``canary`` alias (``None`` with a canary abort: removed)."""
    prior_canary_percent: int | None = None
    actor: str
    reason: str = ""
    forced: bool = False


class AuditRecord(Draft):
    """One promotion, rollback or canary abort as recorded (a :class:`Draft` plus its record
    fields)."""

    record_id: str
    """MLflow run id of the record."""
    time: str
    """ISO 8601 time of the decision (UTC)."""
    time_ns: int
    """Nanoseconds since the epoch: the records' order."""
    state: AuditState
    gates: list[GateResult] = Field(default_factory=list)


def _opt(value: int | None) -> str:
    return "" if value is None else str(value)


def _int(value: str | None) -> int | None:
    return int(value) if value else None


def write(registry: "Registry", draft: Draft, gates: list[GateResult], state: AuditState) -> AuditRecord:
    """Write ``draft`` as a new record in ``state`` (its run stays open while ``pending``)."""
    model, alias = draft.model, draft.alias
    target = "unset" if draft.target_version is None else f"v{draft.target_version}"
    now = time.time_ns()
    stamp = datetime.fromtimestamp(now / 1e9, tz=timezone.utc).isoformat(timespec="milliseconds")
    tags = {_T + "model": model, _T + "kind": draft.kind, _T + "alias": alias,
            _T + "target_version": _opt(draft.target_version),
            _T + "prior_version": _opt(draft.prior_version),
            _T + "canary_percent": _opt(draft.canary_percent),
            _T + "prior_canary_percent": _opt(draft.prior_canary_percent),
            _T + "actor": draft.actor, _T + "reason": draft.reason,
            _T + "forced": str(draft.forced).lower(),
            _T + "time": stamp, _T + "time_ns": str(now), _T + "state": state,
            _T + "gates": json.dumps([g.model_dump(mode="json") for g in gates])}
    client = registry.client
    run = client.create_run(registry.experiment_id(AUDIT_EXPERIMENT),
                            run_name=f"{model}:{alias}->{target}",
                            tags={key: value for key, value in tags.items() if value != ""})
    if state in _RUN_STATUS:
        client.set_terminated(run.info.run_id, _RUN_STATUS[state])
    return _record(run)


def set_state(registry: "Registry", record: AuditRecord, state: AuditState) -> AuditRecord:
    """Mark ``record`` ``state`` (``committed`` or ``aborted``) and close its run."""
    registry.client.set_tag(record.record_id, _T + "state", state)
    registry.client.set_terminated(record.record_id, _RUN_STATUS[state])
    return record.model_copy(update={"state": state})


def _record(run) -> AuditRecord:
    tags = run.data.tags
    return AuditRecord(
        record_id=run.info.run_id, model=tags[_T + "model"], kind=tags[_T + "kind"],
        alias=tags[_T + "alias"], target_version=_int(tags.get(_T + "target_version")),
        prior_version=_int(tags.get(_T + "prior_version")),
        canary_percent=_int(tags.get(_T + "canary_percent")),
        prior_canary_percent=_int(tags.get(_T + "prior_canary_percent")),
        actor=tags.get(_T + "actor", ""), reason=tags.get(_T + "reason", ""),
        forced=tags.get(_T + "forced") == "true", time=tags.get(_T + "time", ""),
        time_ns=int(tags[_T + "time_ns"]), state=tags[_T + "state"],
        gates=[GateResult.model_validate(g) for g in json.loads(tags.get(_T + "gates", "[]"))])


def records(registry: "Registry", model: str | None = None) -> list[AuditRecord]:
    """Records of ``model`` (every model when ``None``), oldest first, as stored (not reconciled)."""
    query = f"tags.`{_T}model` = '{model}'" if model is not None else ""
    found, token = [], None
    try:
        experiment = registry.experiment_id(AUDIT_EXPERIMENT)
        while True:
            page = registry.client.search_runs([experiment], filter_string=query, max_results=1000,
                                               page_token=token)
            found.extend(page)
            token = page.token
            if not token:
                break
    except RegistryError:
        raise
    except Exception as exc:
        raise RegistryError(f"cannot read the audit trail at {registry.tracking_uri}: {exc}") from exc
    return sorted((_record(run) for run in found if _T + "time_ns" in run.data.tags),
                  key=lambda r: r.time_ns)


def reconcile(registry: "Registry", record: AuditRecord) -> AuditRecord:
    """Settle a ``pending`` record left by a writer that died; call it holding the writer lock.

    Raises:
        RegistryError: The store failed; the record stays ``pending``.
    """
    if record.state != "pending":
        return record
    try:
        return _settle(registry, record)
    except RegistryError:
        raise
    except Exception as exc:
        raise RegistryError(f"cannot settle audit record {record.record_id} of '{record.model}': "
                            f"{exc}") from exc


def _settle(registry: "Registry", record: AuditRecord) -> AuditRecord:
    try:
        current = registry.alias_version(record.model, record.alias)
        percent_tag = registry.model_tags(record.model).get(CANARY_PERCENT)
    except ModelNotFoundError:
        return set_state(registry, record, "aborted")
    # a canary abort removes the tag: no tag is its percent (``None``), as "10" is 10's
    percent_is_record = _tag_percent(percent_tag) == record.canary_percent
    if current == record.target_version and (record.alias != CANARY or percent_is_record):
        return set_state(registry, record, "committed")
    if record.alias == CANARY and percent_is_record:
        prior = record.prior_canary_percent
        registry.set_model_tag(record.model, CANARY_PERCENT, None if prior is None else str(prior))
    return set_state(registry, record, "aborted")


def _tag_percent(tag: str | None) -> int | str | None:
    """The canary percent tag as a number (a malformed one stays a string and matches nothing)."""
    return int(tag) if tag is not None and tag.isdigit() else tag


def reconcile_pending(registry: "Registry", model: str | None = None) -> list[AuditRecord]:
    """Reconcile every ``pending`` record (of ``model``); return them as settled."""
    return [reconcile(registry, r) for r in records(registry, model) if r.state == "pending"]

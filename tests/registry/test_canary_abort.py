"""A canary taken out of traffic through the promotion protocol: ``promotion.abort_canary``.

The abort is its own kind in the audit trail (``canary_abort``, with the evidence), removes the
canary percent then the alias (the commit point), refuses to remove a canary other than the one it
was decided about, and a kill before any of its steps is reconciled by ``doctor`` exactly like a
promotion's (the same ``_crash_at`` hook as tests/registry/test_crash_safety.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.registry.conftest import make_bundle
from zhijian_core.cli.main import app
from zhijian_core.errors import PromotionError
from zhijian_core.registry import GateResult, Registry, abort_canary, doctor, history, promote
from zhijian_core.registry import audit, promotion
from zhijian_core.registry.promotion import (STEP_ALIAS, STEP_CANARY_PERCENT, STEP_COMMIT, STEP_LOCK,
                                             STEP_PENDING)

EVIDENCE = [GateResult(name="p95_latency", status="failed",
                       detail="p95 80.0 ms (canary) vs 4.0 ms (production): above the limit 14.0 ms",
                       values={"production": 0.004, "canary": 0.08, "limit": 0.014}),
            GateResult(name="error_ratio", status="passed", detail="error ratio 0 vs 0",
                       values={"production": 0.0, "canary": 0.0, "limit": 0.01})]


class Killed(BaseException):
    """Stands for the process being killed."""


def _with_canary(registry: Registry, name: str, tmp_path: Path, percent: int = 30) -> None:
    for v in range(2):
        registry.register(make_bundle(tmp_path / f"b{v}"), name)
    promote(registry, name, 1, "production", actor="test")
    promote(registry, name, 2, "canary", percent=percent, actor="test")


def assert_consistent(registry: Registry, name: str) -> None:
    """Every alias is the target of its last committed record (none after an abort), the canary
    percent that record's, and no record is pending."""
    records = audit.records(registry, name)
    assert [r for r in records if r.state == "pending"] == []
    last = {r.alias: r for r in records if r.state == "committed"}
    assert registry.aliases(name) == {alias: r.target_version for alias, r in last.items()
                                      if r.target_version is not None}
    assert registry.canary_percent(name) == (last["canary"].canary_percent if "canary" in last
                                             else None)


def test_an_abort_removes_percent_and_alias_with_the_evidence_on_record(
        registry: Registry, name: str, tmp_path: Path) -> None:
    _with_canary(registry, name, tmp_path)
    decision = abort_canary(registry, name, actor="canary-controller", reason="p95 breached",
                            evidence=EVIDENCE, version=2)
    assert (decision.kind, decision.alias, decision.version, decision.prior_version) == (
        "canary_abort", "canary", None, 2)
    assert decision.state == "committed" and decision.failed_gates == EVIDENCE[:1]
    assert registry.aliases(name) == {"production": 1}
    assert registry.canary_percent(name) is None
    record = history(registry, name)[-1]
    assert (record.kind, record.state, record.actor, record.reason) == (
        "canary_abort", "committed", "canary-controller", "p95 breached")
    assert (record.target_version, record.prior_version, record.canary_percent,
            record.prior_canary_percent) == (None, 2, None, 30)
    assert record.gates == EVIDENCE  # the checks with their measured values, as given
    assert doctor(registry, name).ok
    assert_consistent(registry, name)
    promote(registry, name, 2, "canary", percent=10, actor="test")  # a canary again afterwards
    assert doctor(registry, name).ok and registry.canary_percent(name) == 10


def test_the_cli_history_shows_the_abort_and_its_failed_checks(
        registry: Registry, name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _with_canary(registry, name, tmp_path)
    abort_canary(registry, name, actor="canary-controller", reason="slow", evidence=EVIDENCE)
    monkeypatch.setenv("ZHIJIAN_HOME", str(registry.lock_path.parent))
    result = CliRunner().invoke(app, ["history", name], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    line = [row for row in result.output.splitlines() if "canary_abort" in row][0]
    assert "canary -> unset 0% (was v2)  by canary-controller  reason: slow" in line
    assert "failed  p95_latency" in result.output and "80.0 ms" in result.output
    assert "error_ratio" not in result.output  # only the failed checks are listed


def test_an_abort_about_another_canary_or_none_changes_nothing(
        registry: Registry, name: str, tmp_path: Path) -> None:
    _with_canary(registry, name, tmp_path)
    before = len(audit.records(registry, name))
    with pytest.raises(PromotionError, match="the canary is v2, not v1"):
        abort_canary(registry, name, actor="test", version=1)
    assert registry.aliases(name)["canary"] == 2 and registry.canary_percent(name) == 30
    abort_canary(registry, name, actor="test")
    with pytest.raises(PromotionError, match="has no canary"):
        abort_canary(registry, name, actor="test")
    assert len(audit.records(registry, name)) == before + 1


STEPS = [STEP_LOCK, STEP_PENDING, STEP_CANARY_PERCENT, STEP_ALIAS, STEP_COMMIT]


@pytest.mark.parametrize("step", STEPS)
def test_a_kill_at_any_step_of_an_abort_is_reconciled_by_doctor(
        registry: Registry, name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        step: int) -> None:
    _with_canary(registry, name, tmp_path)

    def kill(at: int) -> None:
        if at == step:
            raise Killed(f"killed before step {at}")

    monkeypatch.setattr(promotion, "_crash_at", kill)
    with pytest.raises(Killed):
        abort_canary(registry, name, actor="test", reason="crash test", evidence=EVIDENCE)
    monkeypatch.setattr(promotion, "_crash_at", promotion._no_crash)
    pending = [r for r in audit.records(registry, name) if r.state == "pending"]
    assert len(pending) == (1 if step > STEP_PENDING else 0)
    if step == STEP_ALIAS:  # the percent is gone, the alias not yet: the canary gets no traffic
        assert registry.canary_percent(name) is None and registry.aliases(name)["canary"] == 2
    report = doctor(registry, name)
    assert report.ok, report.problems
    expected = [] if step <= STEP_PENDING else ["committed"] if step == STEP_COMMIT else ["aborted"]
    assert [r.state for r in report.reconciled] == expected
    assert_consistent(registry, name)
    if expected == ["committed"]:
        assert "canary" not in registry.aliases(name)
    else:  # nothing happened: the canary serves at its percent, and the retry works
        assert (registry.aliases(name)["canary"], registry.canary_percent(name)) == (2, 30)
        abort_canary(registry, name, actor="test", reason="retry", evidence=EVIDENCE)
        assert_consistent(registry, name)
        assert "canary" not in registry.aliases(name)

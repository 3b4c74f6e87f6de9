"""Gates, forced promotions, canary percent, rollback and the audit trail."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from tests.registry.conftest import make_bundle
from zhijian_core.errors import (GateError, InvalidNameError, ModelNotFoundError, PromotionError,
                                 VersionNotFoundError)
from zhijian_core.registry import CanaryEvidence, Registry, doctor, history, promote, rollback
from zhijian_core.registry.promotion import rollback_target


def _statuses(decision) -> dict[str, str]:
    return {g.name: g.status for g in decision.gates}


def _register(registry: Registry, name: str, root: Path, **bundle: object) -> int:
    folder = root / f"b{len(list(root.glob('b*')))}"
    return registry.register(make_bundle(folder, **bundle), name)


def test_poc_needs_parity_and_an_own_evaluation(registry: Registry, name: str, tmp_path: Path) -> None:
    good = _register(registry, name, tmp_path)
    no_eval = _register(registry, name, tmp_path, macro_f1=None)
    bad_parity = _register(registry, name, tmp_path, parity_passed=False)
    decision = promote(registry, name, good, "poc", actor="ana")
    assert decision.state == "committed" and decision.prior_version is None
    assert _statuses(decision) == {"digests": "passed", "parity": "passed", "evaluation": "passed",
                                   "export_latency": "skipped"}
    with pytest.raises(GateError, match="evaluation: the bundle has no evaluation") as refused:
        promote(registry, name, no_eval, "poc", actor="ana")
    assert refused.value.decision.state == "refused"
    with pytest.raises(GateError, match="parity: max abs diff 0.01 over tolerance 0.0001"):
        promote(registry, name, bad_parity, "poc", actor="ana")
    assert registry.alias_version(name, "poc") == good
    states = [(r.target_version, r.state) for r in history(registry, name)]
    assert states == [(good, "committed"), (no_eval, "refused"), (bad_parity, "refused")]


def test_production_quality_gate_compares_on_the_same_fingerprint_only(registry: Registry, name: str,
                                                                      tmp_path: Path) -> None:
    v1 = _register(registry, name, tmp_path, macro_f1=0.90)
    worse = _register(registry, name, tmp_path, macro_f1=0.88)
    within = _register(registry, name, tmp_path, macro_f1=0.895)
    other_data = _register(registry, name, tmp_path, macro_f1=0.50, fingerprint="fp-b")
    first = promote(registry, name, v1, "production")
    assert _statuses(first)["quality"] == "skipped"
    assert "no current production" in {g.name: g.detail for g in first.gates}["quality"]
    with pytest.raises(GateError, match=r"quality: macro-F1 0.8800 is below production v1's 0.9000"):
        promote(registry, name, worse, "production")
    assert _statuses(promote(registry, name, within, "production"))["quality"] == "passed"
    skipped = promote(registry, name, other_data, "production")
    gate = {g.name: g for g in skipped.gates}["quality"]
    assert gate.status == "skipped" and "not comparable" in gate.detail


def test_export_latency_is_recorded_never_a_gate(registry: Registry, name: str, tmp_path: Path) -> None:
    slow = _register(registry, name, tmp_path, latency_ms=5000.0)
    decision = promote(registry, name, slow, "production")
    gate = {g.name: g for g in decision.gates}["export_latency"]
    assert gate.status == "skipped" and gate.values["latency_ms_b1"] == 5000.0


def test_unverified_fp16_parity_is_refused_for_production_unless_forced(registry: Registry, name: str,
                                                                        tmp_path: Path) -> None:
    fp16 = _register(registry, name, tmp_path, verified=False)
    assert promote(registry, name, fp16, "poc").state == "committed"  # not a poc gate
    with pytest.raises(GateError, match="parity_verified: parity is unverified"):
        promote(registry, name, fp16, "production")
    with pytest.raises(PromotionError, match="--force needs --reason"):
        promote(registry, name, fp16, "production", force=True, reason="  ")
    forced = promote(registry, name, fp16, "production", force=True, reason="GPU parity checked by hand",
                     actor="lead")
    assert forced.state == "committed" and forced.forced
    assert [g.name for g in forced.failed_gates] == ["parity_verified"]
    last = history(registry, name)[-1]
    assert (last.forced, last.reason, last.actor, last.state) == (
        True, "GPU parity checked by hand", "lead", "committed")
    assert {g.name: g.status for g in last.gates}["parity_verified"] == "failed"


def test_canary_sets_its_percent_and_its_measurement_gates_production(registry: Registry, name: str,
                                                                      tmp_path: Path) -> None:
    v1, v2 = _register(registry, name, tmp_path), _register(registry, name, tmp_path)
    promote(registry, name, v1, "production")
    with pytest.raises(PromotionError, match="needs its traffic percent"):
        promote(registry, name, v2, "canary")
    with pytest.raises(PromotionError, match="canary alias only"):
        promote(registry, name, v2, "shadow", percent=5)
    with pytest.raises(PromotionError, match="out of range"):
        promote(registry, name, v2, "canary", percent=101)
    promote(registry, name, v2, "canary", percent=10)
    assert registry.show(name).canary_percent == 10 and registry.alias_version(name, "canary") == v2
    no_measure = promote(registry, name, v2, "shadow")
    assert "canary" not in _statuses(no_measure)
    slow = CanaryEvidence(p95_ms=900.0, error_ratio=0.0, requests=1000)
    with pytest.raises(GateError, match="canary: p95 900 ms > 250 ms"):
        promote(registry, name, v2, "production", canary=slow)
    skipped = promote(registry, name, v2, "production")
    gate = {g.name: g for g in skipped.gates}["canary"]
    assert (gate.status, gate.detail) == ("skipped", "no canary measurement")
    v3 = _register(registry, name, tmp_path)
    fresh = promote(registry, name, v3, "production",
                    canary=CanaryEvidence(p95_ms=10.0, error_ratio=0.0, requests=1000))
    assert {g.name: g.detail for g in fresh.gates}["canary"] == "the version never served as canary"


def test_a_healthy_canary_passes_the_production_gate(registry: Registry, name: str, tmp_path: Path) -> None:
    v1 = _register(registry, name, tmp_path)
    promote(registry, name, v1, "canary", percent=5)
    ok = promote(registry, name, v1, "production",
                 canary=CanaryEvidence(p95_ms=40.0, error_ratio=0.001, requests=500))
    gate = {g.name: g for g in ok.gates}["canary"]
    assert gate.status == "passed" and gate.values["p95_ms"] == 40.0


def test_rollback_walks_back_through_committed_production_versions(registry: Registry, name: str,
                                                                   tmp_path: Path) -> None:
    v1, v2, v3 = (_register(registry, name, tmp_path, macro_f1=0.9) for _ in range(3))
    with pytest.raises(PromotionError, match="no production alias"):
        rollback(registry, name)
    promote(registry, name, v1, "production")
    with pytest.raises(PromotionError, match="no committed production version before v1"):
        rollback(registry, name)
    promote(registry, name, v2, "production")
    promote(registry, name, v3, "production")
    promote(registry, name, v2, "canary", percent=20)  # other aliases do not count
    decision = rollback(registry, name, actor="oncall", reason="error spike")
    assert (decision.version, decision.prior_version, decision.kind) == (v2, v3, "rollback")
    assert rollback(registry, name).version == v1
    assert registry.alias_version(name, "production") == v1
    last = history(registry, name)[-1]
    assert (last.kind, last.alias, last.target_version, last.state) == ("rollback", "production", v1,
                                                                        "committed")
    assert doctor(registry, name).ok


def test_rollback_target_replays_pushes_and_pops() -> None:
    from zhijian_core.registry.audit import AuditRecord

    def rec(kind: str, target: int, prior: int | None, alias: str = "production",
            state: str = "committed") -> AuditRecord:
        return AuditRecord(record_id="r", model="m", kind=kind, alias=alias, target_version=target,
                           prior_version=prior, actor="a", time="", time_ns=0, state=state)

    trail = [rec("promote", 1, None), rec("promote", 2, 1), rec("promote", 9, 2, state="aborted"),
             rec("promote", 3, 2), rec("rollback", 2, 3), rec("promote", 4, 2), rec("promote", 5, 4, "poc")]
    assert rollback_target(trail, current=4) == 2
    assert rollback_target(trail[:5], current=2) == 1
    assert rollback_target(trail[:1], current=1) is None


def test_bad_requests_are_clear(registry: Registry, name: str, tmp_path: Path) -> None:
    _register(registry, name, tmp_path)
    with pytest.raises(InvalidNameError, match="alias 'Prod'"):
        promote(registry, name, 1, "Prod")
    with pytest.raises(InvalidNameError, match="version '0'"):
        promote(registry, name, "0", "poc")
    with pytest.raises(VersionNotFoundError, match="no version 7"):
        promote(registry, name, 7, "poc")


def test_history_of_an_unknown_model_is_an_error(registry: Registry) -> None:
    with pytest.raises(ModelNotFoundError, match="no registered model 'ghost'"):
        history(registry, "ghost")


@pytest.mark.parametrize(("site", "settled"), [("create_run", None),
                                               ("set_registered_model_alias", "aborted")])
def test_a_store_failure_mid_protocol_is_settled_at_once(registry: Registry, name: str, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch, site: str,
                                                         settled: str | None) -> None:
    version = _register(registry, name, tmp_path)

    def full(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    with monkeypatch.context() as patch:
        patch.setattr(registry.client, site, full)
        with pytest.raises(PromotionError, match="No space left on device"):
            promote(registry, name, version, "production")
    assert registry.alias_version(name, "production") is None
    assert [r.state for r in history(registry, name)] == ([settled] if settled else [])

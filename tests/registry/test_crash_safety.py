"""Crash safety: a promotion killed at any numbered step is reconciled by ``doctor``.

The protocol's test hook ``promotion._crash_at`` is called with the step number before each step;
here it raises a ``BaseException`` (as a kill would, nothing of ours catches it) at one step of one
decision of a scenario. After ``doctor`` every alias equals the target of its last committed record,
the canary percent that of the last committed canary record, and no record is ``pending``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.registry.conftest import make_bundle
from zhijian_core.registry import Registry, doctor, history, promote, rollback
from zhijian_core.registry import audit, promotion
from zhijian_core.registry.promotion import (STEP_ALIAS, STEP_CANARY_PERCENT, STEP_COMMIT, STEP_LOCK,
                                             STEP_PENDING)


class Killed(BaseException):
    """Stands for the process being killed."""


SCENARIO = [("promote", 1, "production", None), ("promote", 2, "canary", 10),
            ("promote", 2, "production", None), ("rollback", None, "production", None),
            ("promote", 3, "canary", 30), ("promote", 3, "canary", 50)]
"""Decisions run in order on a model with versions 1-3; one of them is killed."""
PLAIN_STEPS = [STEP_LOCK, STEP_PENDING, STEP_ALIAS, STEP_COMMIT]
CANARY_STEPS = [STEP_LOCK, STEP_PENDING, STEP_CANARY_PERCENT, STEP_ALIAS, STEP_COMMIT]
CASES = [(index, step) for index, (_, _, alias, _) in enumerate(SCENARIO)
         for step in (CANARY_STEPS if alias == "canary" else PLAIN_STEPS)]


def _run(registry: Registry, name: str, decision: tuple) -> None:
    kind, version, alias, percent = decision
    if kind == "rollback":
        rollback(registry, name, actor="test", reason="crash test")
    else:
        promote(registry, name, version, alias, percent=percent, actor="test")


def assert_consistent(registry: Registry, name: str) -> None:
    records = audit.records(registry, name)
    assert [r for r in records if r.state == "pending"] == []
    last = {}
    for record in records:
        if record.state == "committed":
            last[record.alias] = record
    aliases = registry.aliases(name)
    assert aliases == {alias: record.target_version for alias, record in last.items()}
    expected_percent = last["canary"].canary_percent if "canary" in last else None
    assert registry.canary_percent(name) == expected_percent


def test_the_cases_cover_every_step_at_least_20_times() -> None:
    assert len(CASES) >= 20
    assert {step for _, step in CASES} == {1, 2, 3, 4, 5}
    assert any(SCENARIO[i][0] == "rollback" for i, _ in CASES)


@pytest.mark.parametrize(("index", "step"), CASES)
def test_a_kill_at_any_step_is_reconciled_by_doctor(registry: Registry, name: str, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch, index: int,
                                                    step: int) -> None:
    for v in range(3):
        registry.register(make_bundle(tmp_path / f"b{v}"), name)
    for decision in SCENARIO[:index]:
        _run(registry, name, decision)

    def kill(at: int) -> None:
        if at == step:
            raise Killed(f"killed before step {at}")

    kind, version, alias, _ = SCENARIO[index]
    before = registry.aliases(name).get(alias)
    monkeypatch.setattr(promotion, "_crash_at", kill)
    with pytest.raises(Killed):
        _run(registry, name, SCENARIO[index])
    monkeypatch.setattr(promotion, "_crash_at", promotion._no_crash)
    pending = [r for r in audit.records(registry, name) if r.state == "pending"]
    assert len(pending) == (1 if step > STEP_PENDING else 0)
    report = doctor(registry, name)
    assert report.ok, report.problems
    # The alias write is the commit point; before it, the record commits only if its effect already held.
    already = kind == "promote" and before == version and step == STEP_ALIAS
    assert [r.state for r in report.reconciled] == (
        [] if step <= STEP_PENDING else ["committed"] if step == STEP_COMMIT or already else ["aborted"])
    assert_consistent(registry, name)
    if [r.state for r in report.reconciled] != ["committed"]:  # the operator retries, and it works
        _run(registry, name, SCENARIO[index])
        assert_consistent(registry, name)
        assert registry.aliases(name)[alias] == (version or registry.aliases(name)[alias])


def test_a_reader_leaves_an_in_flight_promotion_alone(registry: Registry, name: str, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    registry.register(make_bundle(tmp_path / "b"), name)

    def kill(at: int) -> None:
        if at == STEP_COMMIT:
            raise Killed("killed before the record was marked committed")

    monkeypatch.setattr(promotion, "_crash_at", kill)
    with pytest.raises(Killed):
        promote(registry, name, 1, "production")
    writer = registry.writer_lock()
    assert writer.try_acquire()  # another writer is (still) at work
    try:
        assert [r.state for r in history(registry, name)] == ["pending"]
    finally:
        writer.release()
    assert [r.state for r in history(registry, name)] == ["committed"]


KILLER = textwrap.dedent("""
    import os, sys
    from zhijian_core.registry import Registry, promote, promotion

    def die(step):
        if step == int(sys.argv[2]):
            os._exit(137)

    promotion._crash_at = die
    promote(Registry(), sys.argv[1], 2, "production", actor="victim")
""")


@pytest.mark.usefixtures("seeded_home")
def test_a_really_killed_process_releases_the_lock_and_doctor_settles(name: str, tmp_path: Path) -> None:
    registry = Registry(lock_timeout_s=5.0)  # this test's own home: the child shares it
    for v in range(2):
        registry.register(make_bundle(tmp_path / f"b{v}"), name)
    promote(registry, name, 1, "production")
    done = subprocess.run([sys.executable, "-c", KILLER, name, str(STEP_COMMIT)], capture_output=True,
                          text=True, timeout=240, env=dict(os.environ),
                          cwd=Path(__file__).resolve().parents[2])
    assert done.returncode == 137, done.stderr
    assert [r.state for r in audit.records(registry, name)] == ["committed", "pending"]
    report = doctor(registry, name)  # takes the lock the dead child held
    assert [r.state for r in report.reconciled] == ["committed"]
    assert registry.alias_version(name, "production") == 2
    assert_consistent(registry, name)

"""Soak (``make soak``): the promotion crash test with a really killed process, and the tampered
bundle test, 20 times each.

The crash: a child process promotes v2 to production and dies with ``os._exit`` at one numbered
step of the protocol (the five steps in turn, four times each); ``doctor`` must then settle the
trail so that the aliases equal the last committed records. The tampering: one byte of a registered
bundle's file flipped (a different file and offset each time); resolving it, and promoting it, must
be refused, and the refusal recorded.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from tests.registry.conftest import make_bundle
from tests.registry.test_crash_safety import KILLER, assert_consistent
from zhijian_core.errors import BundleIntegrityError, GateError
from zhijian_core.registry import Registry, doctor, history, promote
from zhijian_core.registry.promotion import (STEP_ALIAS, STEP_COMMIT, STEP_LOCK, STEP_PENDING)

pytestmark = [pytest.mark.soak, pytest.mark.timeout(300)]

REPEATS = 20
KILL_STEPS = (STEP_LOCK, STEP_PENDING, STEP_ALIAS, STEP_COMMIT)
"""The steps of a production promotion (the canary-percent step is a canary's only)."""


@pytest.mark.parametrize("repeat", range(REPEATS))
@pytest.mark.usefixtures("seeded_home")
def test_a_really_killed_promotion_is_settled(name: str, tmp_path: Path, repeat: int) -> None:
    step = KILL_STEPS[repeat % len(KILL_STEPS)]
    registry = Registry(lock_timeout_s=5.0)  # this test's own home: the child shares it
    for version in range(2):
        registry.register(make_bundle(tmp_path / f"b{version}"), name)
    promote(registry, name, 1, "production", actor="test")
    done = subprocess.run([sys.executable, "-c", KILLER, name, str(step)], capture_output=True,
                          text=True, timeout=240, env=dict(os.environ),
                          cwd=Path(__file__).resolve().parents[2])
    assert done.returncode == 137, done.stderr
    doctor(registry, name)
    assert_consistent(registry, name)
    # killed before the commit step: the alias had moved only when the commit step was reached
    assert registry.alias_version(name, "production") == (2 if step == STEP_COMMIT else 1)


@pytest.mark.parametrize("repeat", range(REPEATS))
def test_a_tampered_bundle_is_refused_and_recorded(registry: Registry, name: str, tmp_path: Path,
                                                   repeat: int) -> None:
    registry.register(make_bundle(tmp_path / "good"), name)
    registry.register(make_bundle(tmp_path / "bad"), name)
    promote(registry, name, 1, "production", actor="test")
    _, path = registry.resolve(name, 2)
    rng = random.Random(repeat)
    files = sorted(p for p in path.rglob("*") if p.is_file() and p.name != "manifest.json")
    victim = files[repeat % len(files)]
    data = bytearray(victim.read_bytes())
    data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
    victim.write_bytes(bytes(data))
    with pytest.raises(BundleIntegrityError, match=victim.name):
        registry.resolve(name, 2)
    with pytest.raises(GateError):
        promote(registry, name, 2, "production", force=True, reason="soak", actor="test")
    assert registry.alias_version(name, "production") == 1
    assert history(registry, name)[-1].state == "refused"

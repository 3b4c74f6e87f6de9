"""scripts/audit_latest.py: what counts as audited, and the exit status, against canned project data
(no network)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("audit_latest", ROOT / "scripts" / "audit_latest.py")
audit_latest = importlib.util.module_from_spec(_spec)
sys.modules["audit_latest"] = audit_latest  # dataclasses look their module up there
_spec.loader.exec_module(audit_latest)


def _project(version: str, *vulns: dict[str, Any]) -> dict[str, Any]:
    return {"info": {"version": version}, "vulnerabilities": list(vulns)}


PROJECTS = {
    "fresh": _project("2.0"),
    "holey": _project("1.1", {"id": "PYSEC-1", "fixed_in": ["1.2"]},
                      {"id": "GHSA-old", "fixed_in": [], "withdrawn": "2026-01-01"}),
    "stale": _project("3.0", {"id": "GHSA-open", "fixed_in": []}),
    "zope-interface": _project("7.0"),
}


def fetch(name: str) -> dict[str, Any]:
    if name not in PROJECTS:
        raise OSError("HTTP Error 404: Not Found")
    return PROJECTS[name]


def _lock(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "lock.txt"
    path.write_text(text)
    return path


def test_read_pins_normalizes_names_and_skips_comments(tmp_path: Path) -> None:
    lock = _lock(tmp_path, "# generated\n\nZope.Interface==7.0  # a comment\nfresh[extra]==2.0\n"
                           "--constraint other.txt\n")
    assert audit_latest.read_pins(lock) == {"zope-interface": "7.0", "fresh": "2.0"}


@pytest.mark.parametrize("line", ["fresh>=2.0", "fresh", "-e ."])
def test_read_pins_refuses_a_loose_requirement(tmp_path: Path, line: str) -> None:
    with pytest.raises(ValueError, match="not an exact pin"):
        audit_latest.read_pins(_lock(tmp_path, line + "\n"))


def test_only_a_pin_at_the_latest_release_is_audited() -> None:
    pins = {"fresh": "2.0", "holey": "1.1", "stale": "1.0", "missing": "0.1"}
    verdicts = {v.name: v for v in audit_latest.audit(pins, fetch)}
    assert verdicts["fresh"].status == "clean" and verdicts["fresh"].audited
    holey = verdicts["holey"]
    assert holey.status == "vulnerable" and [a.id for a in holey.advisories] == ["PYSEC-1"]
    assert holey.advisories[0].fixed_in == ("1.2",)
    stale = verdicts["stale"]  # an older pin is never called clean
    assert stale.status == "behind" and not stale.audited and stale.latest == "3.0"
    assert verdicts["missing"].status == "error" and "404" in verdicts["missing"].error


def test_unreadable_project_data_is_not_audited() -> None:
    verdict = audit_latest.judge("x", "1.0", lambda name: {"info": {}})
    assert verdict.status == "error" and not verdict.audited


def test_exit_status_and_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    clean = _lock(tmp_path, "fresh==2.0\nstale==1.0\n")
    assert audit_latest.main([str(clean)], fetch=fetch) == 0
    out = capsys.readouterr().out
    assert "2 pins, 1 audited" in out
    assert "not audited stale==1.0: latest is 3.0 (the latest release has: GHSA-open " in out
    assert audit_latest.main([str(clean), "--strict"], fetch=fetch) == 1
    holey = _lock(tmp_path, "holey==1.1\n")
    assert audit_latest.main([str(holey)], fetch=fetch) == 1
    assert "VULNERABLE holey==1.1: PYSEC-1 (fixed in: 1.2)" in capsys.readouterr().out


@pytest.mark.parametrize(("index", "api"), [
    ("https://mirror.example/simple", "https://mirror.example/pypi"),
    ("https://mirror.example/simple/", "https://mirror.example/pypi"),
    ("https://mirror.example/pypi", "https://mirror.example/pypi"),
])
def test_json_api_from_an_index_url(index: str, api: str) -> None:
    assert audit_latest.json_api(index) == api


def test_every_lock_file_parses() -> None:
    for lock in sorted((ROOT / "requirements").glob("*.txt")):
        assert audit_latest.read_pins(lock), lock

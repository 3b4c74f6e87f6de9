"""Audit the lock files with PyPI's project data: exact for every pin that is its project's latest
release, and "not audited" (never "clean") for the others.

``make audit`` runs pip-audit, which asks PyPI's per-release JSON API
(``<index>/pypi/<name>/<version>/json``) for the known vulnerabilities of each pinned version. Where
that endpoint is not served (the package mirror of the machines this project is built on answers
404 for every release) pip-audit can audit nothing. The project endpoint
(``<index>/pypi/<name>/json``) often still answers: it describes the project's latest release and
lists the known vulnerabilities of that release, from the same advisory data (PyPA's advisory
database, through OSV). So a pin equal to the latest release is audited exactly; an older pin is
reported as not audited, with the open advisories of the latest release, if any, shown beside it
(one with no fixed release most likely affects the older pin as well).

Exit status: 1 when an audited pin has a known vulnerability, or with ``--strict`` when some pin
could not be audited; 0 otherwise. Run through ``make audit-latest``::

    .venv/bin/python scripts/audit_latest.py [--strict] [--index URL] requirements/*.txt
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

PIN = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?\s*==\s*([^\s;\\#]+)")

Fetch = Callable[[str], dict[str, Any]]
"""A project name to PyPI's project JSON (raises on any failure)."""


def normalize(name: str) -> str:
    """PEP 503's normal form of a project name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def read_pins(path: Path) -> dict[str, str]:
    """``{normalized name: version}`` of the ``name==version`` lines of a requirements file.

    Raises:
        ValueError: A requirement line that is not an exact pin (a lock file holds only those).
    """
    pins: dict[str, str] = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        text = line.split("#", 1)[0].strip()
        if not text or text.startswith("--"):
            continue
        match = PIN.match(text)
        if match is None:
            raise ValueError(f"{path}:{number}: not an exact pin (name==version): {line.strip()!r}")
        pins[normalize(match.group(1))] = match.group(2)
    return pins


@dataclass(frozen=True)
class Advisory:
    """One known vulnerability of a release, as PyPI lists it."""

    id: str
    fixed_in: tuple[str, ...]

    def __str__(self) -> str:
        fixed = ", ".join(self.fixed_in) if self.fixed_in else "no fixed release"
        return f"{self.id} (fixed in: {fixed})"


@dataclass(frozen=True)
class Verdict:
    """What the project data says about one pin.

    Attributes:
        status: ``clean`` or ``vulnerable`` (the pin is the latest release: audited), ``behind``
            (an older pin: not audited) or ``error`` (no project data: not audited).
        advisories: The latest release's known vulnerabilities (the pin's own when audited).
    """

    name: str
    pinned: str
    status: str
    latest: str | None = None
    advisories: tuple[Advisory, ...] = field(default=())
    error: str = ""

    @property
    def audited(self) -> bool:
        return self.status in ("clean", "vulnerable")


def judge(name: str, pinned: str, fetch: Fetch) -> Verdict:
    """The verdict on one pin from its project's JSON."""
    try:
        project = fetch(name)
        latest = str(project["info"]["version"])
        records = project.get("vulnerabilities") or []
        advisories = tuple(Advisory(str(r["id"]), tuple(str(v) for v in r.get("fixed_in") or ()))
                           for r in records if not r.get("withdrawn"))
    except Exception as exc:  # any failure to get or read the data: the pin is not audited
        return Verdict(name, pinned, "error", error=f"{type(exc).__name__}: {exc}")
    if latest != pinned:
        return Verdict(name, pinned, "behind", latest, advisories)
    return Verdict(name, pinned, "vulnerable" if advisories else "clean", latest, advisories)


def audit(pins: dict[str, str], fetch: Fetch, workers: int = 8) -> list[Verdict]:
    """Verdicts on every pin, in name order."""
    names = sorted(pins)
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(lambda n: judge(n, pins[n], fetch), names))


def json_api(index: str | None = None) -> str:
    """The JSON API's base URL: ``index`` (``.../simple`` or ``.../pypi``), else ``PIP_INDEX_URL``,
    else pip's default index."""
    index = index or os.environ.get("PIP_INDEX_URL")
    if not index:
        from pip._internal.models.index import PyPI

        return PyPI.pypi_url
    return re.sub(r"/(simple|pypi)/?$", "", index.rstrip("/")) + "/pypi"


def http_fetch(base: str, timeout_s: float = 30.0) -> Fetch:
    """A :data:`Fetch` over HTTP(S) against the JSON API at ``base``."""
    def fetch(name: str) -> dict[str, Any]:
        with urllib.request.urlopen(f"{base}/{name}/json", timeout=timeout_s) as answer:
            return json.load(answer)
    return fetch


def report(lock: Path, verdicts: list[Verdict]) -> str:
    """A readable report of one lock file's verdicts."""
    audited = [v for v in verdicts if v.audited]
    lines = [f"== {lock}: {len(verdicts)} pins, {len(audited)} audited (the latest release), "
             f"{sum(v.status == 'vulnerable' for v in verdicts)} with known vulnerabilities, "
             f"{len(verdicts) - len(audited)} not audited"]
    for v in verdicts:
        if v.status == "vulnerable":
            lines.append(f"  VULNERABLE {v.name}=={v.pinned}: " + "; ".join(map(str, v.advisories)))
    for v in verdicts:
        if v.status == "behind":
            extra = (" (the latest release has: " + "; ".join(map(str, v.advisories)) + ")"
                     if v.advisories else "")
            lines.append(f"  not audited {v.name}=={v.pinned}: latest is {v.latest}{extra}")
        elif v.status == "error":
            lines.append(f"  not audited {v.name}=={v.pinned}: {v.error}")
    return "\n".join(lines)


def main(argv: list[str] | None = None, fetch: Fetch | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("locks", nargs="+", type=Path)
    parser.add_argument("--index", help="package index (…/simple) or JSON API (…/pypi) URL")
    parser.add_argument("--strict", action="store_true", help="fail when a pin is not audited")
    args = parser.parse_args(argv)
    fetch = fetch or http_fetch(json_api(args.index))
    vulnerable = unaudited = 0
    for lock in args.locks:
        verdicts = audit(read_pins(lock), fetch)
        print(report(lock, verdicts), flush=True)
        vulnerable += sum(v.status == "vulnerable" for v in verdicts)
        unaudited += sum(not v.audited for v in verdicts)
    return 1 if vulnerable or (args.strict and unaudited) else 0


if __name__ == "__main__":
    sys.exit(main())

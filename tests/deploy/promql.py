"""PromQL as the rule and dashboard tests need it: the metric names an expression reads, the names
the service exports, and a syntax check of expressions by ``promtool``.

There is no PromQL parser in Python here; :func:`metric_names` strips what cannot be a metric name
(strings, label matchers, ranges, grouping clauses, function calls, keywords, numbers) and keeps
the identifiers left, which is exact for the expressions we write (no ``__name__`` matchers).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "prometheus" / "rules"
PROMTOOL = "promtool"

RELEASE_METRICS = {
    "zhijian_traffic_percent": "gauge",
    "zhijian_alias_version": "gauge",
    "zhijian_canary_decisions": "counter",
    "zhijian_canary_observed": "gauge",
}
"""The release and canary metrics (family name: type) the releases dashboard reads; declared in
services/metrics/catalog.py with the canary controller."""

SUFFIXES = {"counter": ("_total",), "gauge": ("",), "histogram": ("_bucket", "_sum", "_count"),
            "summary": ("", "_sum", "_count")}
KEYWORDS = {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right",
            "bool", "offset", "inf", "nan"}

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_IDENTIFIER = re.compile(r"(?<![\w.:])([a-zA-Z_:][\w:]*)(?!\w)(\s*\()?")


def promtool() -> str:
    """The ``promtool`` binary; a CI run without it fails, elsewhere its absence skips."""
    found = shutil.which(PROMTOOL) or shutil.which(PROMTOOL, path="/usr/bin")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("promtool is missing: scripts/provision.sh installs Debian's prometheus")
        pytest.skip("promtool is not installed (apt-get install prometheus)")
    return found


def metric_names(expr: str) -> set[str]:
    """The metric (and recorded) names ``expr`` selects."""
    text = _STRING.sub('""', expr)
    text = re.sub(r"\{[^}]*\}", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)
    text = _GROUPING.sub(" ", text)
    return {m.group(1) for m in _IDENTIFIER.finditer(text)
            if m.group(2) is None and m.group(1).lower() not in KEYWORDS}


def exported_names() -> set[str]:
    """Every series name the service exports: the catalog's metrics (read from a fresh
    :class:`services.metrics.catalog.Metrics`) and the release metrics, with their suffixes."""
    from services.metrics.catalog import Metrics

    families = {family.name: family.type for family in Metrics().registry.collect()}
    families.update({n: t for n, t in RELEASE_METRICS.items() if n not in families})
    return {name + suffix for name, kind in families.items() for suffix in SUFFIXES[kind]}


def rule_groups(folder: Path = RULES) -> list[dict]:
    """The groups of every rule file of ``folder``, in file name order."""
    return [group for path in sorted(folder.glob("*.yaml"))
            for group in yaml.safe_load(path.read_text())["groups"]]


def recorded_names(folder: Path = RULES) -> set[str]:
    """The names the recording rules of ``folder`` record."""
    return {rule["record"] for group in rule_groups(folder) for rule in group["rules"]
            if "record" in rule}


def check_syntax(exprs: list[str], folder: Path) -> None:
    """``promtool check rules`` on ``exprs`` written as recording rules: a syntax error fails
    with promtool's message."""
    rules = [{"record": f"check:expression:{i}", "expr": expr} for i, expr in enumerate(exprs)]
    path = folder / "expressions.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "expressions", "rules": rules}]}))
    result = subprocess.run([promtool(), "check", "rules", str(path)], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr

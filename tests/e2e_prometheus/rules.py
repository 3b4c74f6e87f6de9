"""The shipped rule files, read as the end-to-end tests need them: recording rules (name and
expression) and alert names, in file order."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tests.e2e_prometheus.server import RULES_GLOB


@dataclass(frozen=True)
class Rule:
    """One rule of a rule file."""

    file: str
    """The file's name (``recording.yaml``)."""
    group: str
    name: str
    """The recorded series' name, or the alert's."""
    expr: str
    alert: bool


def rule_files(pattern: Path = RULES_GLOB) -> list[Path]:
    """The rule files Prometheus loads (sorted)."""
    return sorted(pattern.parent.glob(pattern.name))


def rules(pattern: Path = RULES_GLOB) -> list[Rule]:
    """Every rule of every rule file."""
    import yaml

    found: list[Rule] = []
    for path in rule_files(pattern):
        document = yaml.safe_load(path.read_text()) or {}
        for group in document.get("groups") or []:
            for rule in group.get("rules") or []:
                alert = "alert" in rule
                found.append(Rule(file=path.name, group=group["name"],
                                  name=rule["alert"] if alert else rule["record"],
                                  expr=str(rule["expr"]), alert=alert))
    return found


def recording_rules(pattern: Path = RULES_GLOB) -> list[Rule]:
    """The recording rules, each recorded name once (the first rule recording it)."""
    seen: dict[str, Rule] = {}
    for rule in rules(pattern):
        if not rule.alert:
            seen.setdefault(rule.name, rule)
    return list(seen.values())


def alert_names(pattern: Path = RULES_GLOB) -> list[str]:
    """The alerts' names, each once."""
    return list(dict.fromkeys(rule.name for rule in rules(pattern) if rule.alert))

"""The Grafana dashboards of ``deploy/grafana/dashboards``, read as tests need them: every panel's
PromQL with the dashboard variables expanded, so that a test can run it against a real Prometheus.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Iterator

ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS = ROOT / "deploy" / "grafana" / "dashboards"

BUILT_IN = {"__rate_interval": "1m", "__interval": "15s", "__range": "1h"}
"""Grafana's own variables, at values that suit a Prometheus scraping every few seconds."""


def panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, those inside collapsed rows included."""
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def expand(expr: str, variables: dict[str, str] | None = None, everything: str = ".*") -> str:
    """``expr`` with ``$name``, ``${name}`` and ``[[name]]`` replaced: Grafana's built-in
    variables by :data:`BUILT_IN`, the others by ``variables`` or else by ``everything`` (the
    "All" value of a regex variable)."""
    values = {**BUILT_IN, **(variables or {})}

    def value(match: re.Match[str]) -> str:
        name = next(g for g in match.groups() if g)
        return values.get(name, everything)

    return re.sub(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)\]\]", value, expr)


def panel_queries(path: Path | str, variables: dict[str, str] | None = None) -> list[str]:
    """The PromQL of every target of every panel of the dashboard at ``path``, variables expanded
    (``$model`` and the other template variables to ``.*``: every model)."""
    dashboard = json.loads(Path(path).read_text())
    return [expand(target["expr"], variables) for panel in panels(dashboard)
            for target in panel.get("targets", []) if target.get("expr")]


def annotation_queries(path: Path | str, variables: dict[str, str] | None = None) -> list[str]:
    """The PromQL of the dashboard's annotations, variables expanded as :func:`panel_queries`."""
    dashboard = json.loads(Path(path).read_text())
    return [expand(a["expr"], variables) for a in dashboard.get("annotations", {}).get("list", [])
            if a.get("expr")]

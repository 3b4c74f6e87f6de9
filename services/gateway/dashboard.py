"""The built-in dashboard: ``GET /dashboard`` (one self-contained HTML page) and
``GET /dashboard/data`` (what the page polls), for a single machine where no Grafana runs.

The data endpoint keeps no state: it answers the node's cumulative counters and latency histogram
buckets, read from the same aggregated multiprocess registry as ``/metrics`` (every replica of the
node), the routing table's current split and the server's clock. The page polls it every 2 s, keeps
the last minutes in the browser, and computes rates, error ratios, quantiles and cost from the
differences between polls (``static/dashboard.js``). Neither route needs authentication (like
``/metrics``), and neither is in the request metrics.

``/dashboard/data``::

    {"time": <server Unix seconds>,
     "latency_bounds": [0.0005, ...],            # the buckets' upper bounds; +Inf is implied
     "models": [{"model": "images", "serving": {"production": 1, "canary": 2},
                 "split": {"production": 70, "canary": 30},
                 "shadow": {"version": 3, "percent": 100.0} | null,
                 "requests": 120, "errors": 4,      # every answer of the model, any version
                 "error": null | "<why the registry could not be read>"}],
     "series": [{"model": "images", "version": "1",   # "" for answers no version gave
                 "requests": 100, "latency_buckets": [<cumulative counts, one per bound, +Inf>],
                 "latency_sum": 0.8, "latency_count": 100,
                 "inferences": 100, "failures": 0,    # the hosts' answers by outcome
                 "cost_usage": 0.00012, "cost_allocation": 0.0004}]}   # dollars, all devices
"""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import math
import re
import time
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Iterable, Mapping

from fastapi import APIRouter
from starlette.responses import HTMLResponse, JSONResponse

from services.gateway.fleet import Fleet
from services.gateway.inference import Gateway
from services.gateway.middleware import DASHBOARD_DATA_PATH, DASHBOARD_PATH
from services.metrics.catalog import NONE, PREFIX
from services.metrics.multiprocess import node_registry

_SCRIPT_SLOT = "/*DASHBOARD_JS*/"
"""Where ``dashboard.html`` takes the script in."""
_NO_CACHE = {"Cache-Control": "no-store"}
_DIGITS = re.compile(r"[0-9]+")


@dataclass
class _Row:
    """The cumulative values of one model and version."""

    requests: float = 0.0
    buckets: dict[float, float] = field(default_factory=dict)
    latency_sum: float = 0.0
    latency_count: float = 0.0
    inferences: float = 0.0
    failures: float = 0.0
    cost: dict[str, float] = field(default_factory=lambda: {"usage": 0.0, "allocation": 0.0})


def traffic(serving: Mapping[str, int], canary_percent: int | None, shadow_percent: float,
            error: str | None = None) -> dict[str, Any]:
    """A model's routing table as the dashboard shows it.

    Args:
        serving: Alias to the version serving it (``production``, ``canary``, ``shadow``).
        canary_percent: The canary's share of requests (``None`` or 0: no canary traffic).
        shadow_percent: The share of production requests copied to the shadow version.
        error: Why the registry could not be read at the last refresh, if it could not.

    Returns:
        ``serving``, ``split`` (percent of requests by alias, adding up to 100), ``shadow``
        (its version and the share mirrored, or ``None``) and ``error``.
    """
    percent = canary_percent if "canary" in serving else None
    split = {"production": 100 - (percent or 0)} if "production" in serving else {}
    if percent:
        split["canary"] = percent
    shadow = ({"version": serving["shadow"], "percent": shadow_percent}
              if "shadow" in serving else None)
    return {"serving": dict(serving), "split": split, "shadow": shadow, "error": error}


def _row(rows: dict[tuple[str, str], _Row], labels: Mapping[str, str]) -> _Row | None:
    model = labels.get("model", NONE)
    if model == NONE:  # a request naming no served model belongs to no model's row
        return None
    return rows.setdefault((model, labels.get("version", NONE)), _Row())


def _collect(families: Iterable[Any]) -> dict[tuple[str, str], _Row]:
    """The samples the dashboard needs, by model and version (summed over routes, codes and
    devices)."""
    rows: dict[tuple[str, str], _Row] = {}
    for family in families:
        if not family.name.startswith(PREFIX):
            continue
        for sample in family.samples:
            name, labels, value = sample.name, sample.labels, sample.value
            if name == f"{PREFIX}requests_total":
                if (row := _row(rows, labels)) is not None:
                    row.requests += value
            elif name.startswith(f"{PREFIX}request_duration_seconds_"):
                if (row := _row(rows, labels)) is None:
                    continue
                if name.endswith("_bucket"):
                    bound = float(labels["le"])
                    row.buckets[bound] = row.buckets.get(bound, 0.0) + value
                elif name.endswith("_sum"):
                    row.latency_sum += value
                elif name.endswith("_count"):
                    row.latency_count += value
            elif name == f"{PREFIX}inferences_total":
                if (row := _row(rows, labels)) is not None:
                    if labels.get("outcome") == "success":
                        row.inferences += value
                    else:
                        row.failures += value
            elif name == f"{PREFIX}cost_dollars_total":
                if (row := _row(rows, labels)) is not None and labels.get("basis") in row.cost:
                    row.cost[labels["basis"]] += value
    return rows


def _errors(families: Iterable[Any]) -> dict[str, float]:
    """Answers of 400 or more by model (any version)."""
    errors: dict[str, float] = {}
    for family in families:
        for sample in family.samples:
            model = sample.labels.get("model", NONE)
            if sample.name == f"{PREFIX}request_errors_total" and model != NONE:
                errors[model] = errors.get(model, 0.0) + sample.value
    return errors


def _version_order(key: tuple[str, str]) -> tuple[str, int, int]:
    """Rows by model, then version number; the answers of no version last."""
    model, version = key
    number = _DIGITS.fullmatch(version) is not None
    return (model, 0 if number else 1, int(version) if number else 0)


def snapshot(families: Iterable[Any], models: Mapping[str, Mapping[str, Any]],
             now: float) -> dict[str, Any]:
    """The document of ``/dashboard/data`` (described in the module docstring).

    Args:
        families: The node's metric families (``prometheus_client`` ``Metric`` objects).
        models: Model name to its :func:`traffic`.
        now: The server's clock, Unix seconds.
    """
    families = list(families)
    rows = _collect(families)
    errors = _errors(families)
    bounds = sorted({b for row in rows.values() for b in row.buckets if math.isfinite(b)})
    series = []
    for (model, version), row in sorted(rows.items(), key=lambda item: _version_order(item[0])):
        series.append({
            "model": model, "version": version, "requests": row.requests,
            "latency_buckets": [row.buckets.get(b, 0.0) for b in bounds]
            + [row.buckets.get(math.inf, 0.0)],
            "latency_sum": row.latency_sum, "latency_count": row.latency_count,
            "inferences": row.inferences, "failures": row.failures,
            "cost_usage": row.cost["usage"], "cost_allocation": row.cost["allocation"]})
    names = sorted(set(models) | {model for model, _ in rows})
    return {
        "time": now, "latency_bounds": bounds,
        "models": [{"model": name, **(models.get(name) or traffic({}, None, 0.0)),
                    "requests": sum(r.requests for (m, _), r in rows.items() if m == name),
                    "errors": errors.get(name, 0.0)} for name in names],
        "series": series}


def fleet_traffic(fleet: Fleet, shadow_percent: float) -> dict[str, dict[str, Any]]:
    """:func:`traffic` of every served model, from the gateway's routing table."""
    return {name: traffic(fleet.serving.get(name, {}), fleet.percents.get(name), shadow_percent,
                          fleet.errors.get(name)) for name in fleet.hosts}


def _inline_hash(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()


def _between(text: str, start: str, end: str) -> str:
    return text[text.index(start) + len(start):text.index(end)]


@functools.lru_cache(maxsize=1)
def page() -> tuple[str, str]:
    """The dashboard page (``static/dashboard.html`` with ``static/dashboard.js`` inlined) and its
    Content-Security-Policy, which allows only that script and style and requests to this origin."""
    static = resources.files("services.gateway") / "static"
    html = (static / "dashboard.html").read_text(encoding="utf-8")
    script = (static / "dashboard.js").read_text(encoding="utf-8")
    html = html.replace(_SCRIPT_SLOT, script)
    script_hash = _inline_hash(_between(html, "<script>", "</script>"))
    style_hash = _inline_hash(_between(html, "<style>", "</style>"))
    policy = "; ".join([
        "default-src 'none'", f"script-src '{script_hash}'", f"style-src '{style_hash}'",
        "connect-src 'self'", "img-src data:", "base-uri 'none'", "form-action 'none'",
        "frame-ancestors 'none'"])
    return html, policy


def dashboard_router(gateway: Gateway) -> APIRouter:
    """``GET /dashboard`` and ``GET /dashboard/data`` over ``gateway``'s served models."""
    router = APIRouter(include_in_schema=False)

    @router.get(DASHBOARD_PATH)
    async def dashboard_page() -> HTMLResponse:
        """The page: latency, throughput, errors and cost per model and version, and the split."""
        html, policy = page()
        return HTMLResponse(html, headers={"Content-Security-Policy": policy, **_NO_CACHE})

    @router.get(DASHBOARD_DATA_PATH)
    async def dashboard_data() -> JSONResponse:
        """Cumulative counters and buckets of the node, the routing table, the server's clock."""
        families = await asyncio.to_thread(lambda: list(node_registry().collect()))
        models = fleet_traffic(gateway.fleet, gateway.config.shadow_percent)
        return JSONResponse(snapshot(families, models, time.time()), headers=_NO_CACHE)

    return router

"""The cluster metrics source: Prometheus' HTTP API, which scrapes every node.

Each window is five instant queries of ``increase(...[window])`` summed by version (and by
``outcome`` or ``le`` where needed), so Prometheus does the windowing, counter resets included;
its increases are extrapolated to the window's ends, which scales both arms alike.
"""

from __future__ import annotations

import json
import math
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from services.canary.source import MetricsSourceError, Window
from services.canary.window import (AGREEMENT_COUNT, AGREEMENT_SUM, COST, INFERENCES,
                                    LATENCY_BUCKET, Totals, TotalsBuilder)
from zhijian_core.names import check_model_name


def queries(model: str, window_s: float, basis: str) -> dict[str, str]:
    """The PromQL of one window, by the sample name whose increase each query sums.

    Args:
        model: A model name (the names grammar keeps it free of quotes).
        window_s: The window in seconds (rounded to milliseconds).
        basis: Cost basis.
    """
    selector = f'model="{check_model_name(model)}"'
    span = f"{max(1, round(window_s * 1000))}ms"

    def summed(name: str, by: str, extra: str = "") -> str:
        return f"sum by ({by}) (increase({name}{{{selector}{extra}}}[{span}]))"

    return {INFERENCES: summed(INFERENCES, "version, outcome"),
            LATENCY_BUCKET: summed(LATENCY_BUCKET, "version, le"),
            COST: summed(COST, "version", f',basis="{basis}"'),
            AGREEMENT_SUM: summed(AGREEMENT_SUM, "version"),
            AGREEMENT_COUNT: summed(AGREEMENT_COUNT, "version")}


class PrometheusSource:
    """Windows from a Prometheus server.

    Args:
        url: Base URL (``http://prometheus:9090``).
        basis: Cost basis (``usage`` or ``allocation``).
        timeout_s: Longest wait for one query.
    """

    def __init__(self, url: str, basis: str = "usage", timeout_s: float = 5.0) -> None:
        self.url = url.rstrip("/")
        self.basis = basis
        self.timeout_s = timeout_s

    def _query(self, expr: str) -> list[dict[str, Any]]:
        address = f"{self.url}/api/v1/query?{urllib.parse.urlencode({'query': expr})}"
        try:
            with urllib.request.urlopen(address, timeout=self.timeout_s) as answer:
                body = json.loads(answer.read())
        except urllib.error.HTTPError as exc:
            raise MetricsSourceError(f"Prometheus at {self.url} refused {expr!r}: HTTP {exc.code} "
                                     f"{exc.read()[:300].decode(errors='replace')}") from exc
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise MetricsSourceError(f"cannot query Prometheus at {self.url}: {exc}") from exc
        if body.get("status") != "success" or body.get("data", {}).get("resultType") != "vector":
            raise MetricsSourceError(f"Prometheus at {self.url} answered {expr!r} with "
                                     f"{str(body)[:300]}")
        return body["data"]["result"]

    def window(self, model: str, window_s: float) -> Window:
        """The increase of ``model``'s counts over the last ``window_s`` seconds.

        Raises:
            MetricsSourceError: Prometheus is unreachable or refused a query.
        """
        builders: dict[int, TotalsBuilder] = {}
        for name, expr in queries(model, window_s, self.basis).items():
            for series in self._query(expr):
                labels = series.get("metric", {})
                version = labels.get("version", "")
                value = float(series["value"][1])
                if not version.isdigit() or not math.isfinite(value):
                    continue
                if name == COST:
                    labels = {**labels, "basis": self.basis}
                builders.setdefault(int(version), TotalsBuilder()).add(name, labels, value,
                                                                      self.basis)
        versions: dict[int, Totals] = {v: b.build() for v, b in builders.items()}
        return Window(versions=versions, covered_s=window_s)

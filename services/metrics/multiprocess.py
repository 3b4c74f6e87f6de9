"""prometheus_client's multiprocess mode on a node, and the text exposition of ``/metrics``.

Every replica process of a node writes its values into files of one directory, named by
``$PROMETHEUS_MULTIPROC_DIR``; the variable must be in a process's environment before
``prometheus_client`` is imported there, which is why the application builder puts it into the
deployments' runtime environment (:func:`runtime_env_vars`) rather than replicas setting it
themselves. The directory is wiped once when the application is built (:func:`prepare_directory`),
never by a replica; a replica that shuts down marks itself dead (:func:`mark_dead`), which drops its
live gauges; the exposition also drops those of processes that died without doing so.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

from services.metrics.catalog import metrics

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
"""The environment variable naming the directory of the multiprocess files."""
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
"""The classic text exposition format (promtool 2.42 rejects OpenMetrics)."""
_LIVE_FILE = re.compile(r"^gauge_live[a-z]+_(\d+)\.db$")


def directory() -> Path | None:
    """The multiprocess directory of this process (``None``: single-process mode)."""
    value = os.environ.get(MULTIPROC_ENV)
    return Path(value) if value else None


def node_directory(configured: str | None = None) -> Path:
    """The multiprocess directory an application uses on each node: ``configured``, else
    ``$PROMETHEUS_MULTIPROC_DIR``, else ``$ZHIJIAN_HOME/metrics``."""
    if configured:
        return Path(configured)
    path = directory()
    if path is not None:
        return path
    from zhijian_core.mlflow_store import zhijian_home

    return zhijian_home() / "metrics"


def prepare_directory(path: Path) -> Path:
    """Create ``path`` and remove the metric files a previous application left there.

    Only ``*.db`` files are removed, so a wrongly configured path loses nothing else.
    """
    path.mkdir(parents=True, exist_ok=True)
    for file in path.glob("*.db"):
        file.unlink(missing_ok=True)
    return path


def runtime_env_vars(path: Path) -> dict[str, str]:
    """The environment variables a replica's runtime environment needs for ``path``."""
    return {MULTIPROC_ENV: str(path)}


def mark_dead(pid: int | None = None) -> None:
    """Drop the live gauges of ``pid`` (this process by default); nothing in single-process mode."""
    path = directory()
    if path is None:
        return
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(os.getpid() if pid is None else pid, str(path))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def prune_dead(path: Path) -> list[int]:
    """Mark dead every process of this node whose live gauges are still in ``path``; return them."""
    dead = sorted({int(m.group(1)) for f in os.listdir(path) if (m := _LIVE_FILE.match(f))
                   and not _alive(int(m.group(1)))})
    for pid in dead:
        mark_dead(pid)
    return dead


def node_registry() -> "CollectorRegistry":
    """Every metric of this node: all processes aggregated in multiprocess mode (the live gauges
    of dead processes dropped first), else this process's own registry. What ``/metrics`` and
    ``/dashboard/data`` read."""
    path = directory()
    if path is None:
        return metrics().registry
    from prometheus_client import CollectorRegistry
    from prometheus_client.multiprocess import MultiProcessCollector

    prune_dead(path)
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(path))
    return registry


def exposition() -> bytes:
    """Every metric of this node (:func:`node_registry`) in the classic text format."""
    from prometheus_client import generate_latest

    return generate_latest(node_registry())

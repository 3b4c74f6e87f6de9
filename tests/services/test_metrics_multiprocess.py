"""prometheus_client's multiprocess mode as the service uses it: processes writing into one
directory, aggregated by the exposition; live gauges of dead processes dropped; the directory
wiped once, keeping anything that is not a metric file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from services.metrics import MULTIPROC_ENV, exposition, prepare_directory, runtime_env_vars
from services.metrics.multiprocess import node_directory
from tests.services.test_metrics import check_with_promtool, parse, value

ROOT = Path(__file__).resolve().parents[2]
WRITER = """
import sys
from services.metrics import mark_dead, metrics
m = metrics()
m.requests.labels("images", "1", "/v2/models/{model}/infer", "200").inc(2)
m.stage_duration.labels("images", "1", "inference").observe(0.004)
m.in_flight.labels("images").inc()
m.replicas.labels("host-images").set(1)
m.uptime.labels("host-images").set(float(sys.argv[1]))
print("ready", flush=True)
if sys.argv[2] == "wait":
    sys.stdin.readline()
if sys.argv[3] == "mark":
    mark_dead()
"""


def _writer(path: Path, uptime: float, wait: bool, mark: bool) -> subprocess.Popen:
    environment = {**runtime_env_vars(path), "PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    process = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(uptime), "wait" if wait else "go",
         "mark" if mark else "no"], cwd=ROOT, env=environment,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None and process.stdout.readline().strip() == "ready"
    return process


def test_processes_are_aggregated_and_dead_ones_leave_no_live_gauge(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = prepare_directory(tmp_path / "metrics")
    monkeypatch.setenv(MULTIPROC_ENV, str(path))
    marked = _writer(path, 50.0, wait=False, mark=True)
    unmarked = _writer(path, 40.0, wait=False, mark=False)  # dies without marking itself
    live = _writer(path, 30.0, wait=True, mark=False)
    for process in (marked, unmarked):
        process.communicate(timeout=30)
        assert process.returncode == 0
    text = exposition().decode()
    samples = parse(text)
    infer = {"model": "images", "version": "1", "route": "/v2/models/{model}/infer"}
    assert value(samples, "zhijian_requests_total", **infer, code="200") == 6  # dead ones' too
    assert value(samples, "zhijian_stage_duration_seconds_count", stage="inference") == 3
    assert value(samples, "zhijian_requests_in_flight", model="images") == 1  # the live one's
    assert value(samples, "zhijian_replicas", deployment="host-images") == 1
    assert value(samples, "zhijian_replica_uptime_seconds", deployment="host-images") == 30.0
    check_with_promtool(text)
    live.communicate("\n", timeout=30)
    samples = parse(exposition().decode())
    assert value(samples, "zhijian_replicas", deployment="host-images") == 0
    assert value(samples, "zhijian_requests_total", **infer) == 6


def test_the_directory_is_wiped_of_metric_files_only(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "metrics"
    path.mkdir()
    (path / "counter_123.db").write_bytes(b"x")
    (path / "notes.txt").write_text("kept")
    assert prepare_directory(path) == path
    assert [p.name for p in path.iterdir()] == ["notes.txt"]
    monkeypatch.delenv(MULTIPROC_ENV, raising=False)
    monkeypatch.setenv("ZHIJIAN_HOME", str(tmp_path / "home"))
    assert node_directory(None) == tmp_path / "home" / "metrics"
    monkeypatch.setenv(MULTIPROC_ENV, str(tmp_path / "env"))
    assert node_directory(None) == tmp_path / "env"
    assert node_directory(str(tmp_path / "given")) == tmp_path / "given"

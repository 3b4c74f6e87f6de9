"""The canary controller's metrics sources on real ``prometheus_client`` metrics: this node's
counts (one process's registry, and several processes' multiprocess files) turned into sliding
windows, and Prometheus' HTTP API (a real server scraping them) giving the same numbers."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from services.canary import ArmStats, MetricsSourceError, NodeSource, PrometheusSource
from services.canary.node import model_totals
from services.metrics import MULTIPROC_ENV, Metrics, prepare_directory, runtime_env_vars
from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
INFER = "/v2/models/{model}/infer"
PREDICT = "/v1/models/{model}:predict"


class Clock:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def record(m: Metrics, model: str, version: str, ok: int, failed: int, latency_s: float,
           dollars: float, route: str = INFER, agreement: tuple[int, float] | None = None) -> None:
    """What the gateway and a host record for ``ok + failed`` runs of one version."""
    m.inferences.labels(model, version, "success").inc(ok)
    m.inferences.labels(model, version, "failure").inc(failed)
    latency = m.request_duration.labels(model, version, route)  # the series exists, at zero
    for _ in range(ok):
        latency.observe(latency_s)
    m.cost.labels(model, version, "cpu", "usage").inc(dollars)
    m.cost.labels(model, version, "cpu", "allocation").inc(10 * dollars)
    if agreement is not None:
        compared = m.shadow_agreement.labels(model, version)
        for _ in range(agreement[0]):
            compared.observe(agreement[1])


def test_counts_are_summed_over_routes_and_devices_per_version() -> None:
    m = Metrics()
    record(m, "m", "1", 30, 1, 0.004, 0.001)
    record(m, "m", "1", 10, 0, 0.004, 0.002, route=PREDICT)
    m.cost.labels("m", "1", "gpu", "usage").inc(0.004)
    record(m, "m", "2", 5, 5, 0.040, 0.003, agreement=(4, 0.5))
    record(m, "other", "1", 99, 99, 1.0, 9.0)
    m.requests.labels("m", "", INFER, "404").inc(7)  # no version: never a canary's count
    totals = model_totals(m.registry.collect(), "m", "usage")
    assert set(totals) == {1, 2}
    one, two = totals[1], totals[2]
    assert (one.successes, one.failures, one.latency_count) == (40, 1, 40)
    assert one.cost_dollars == pytest.approx(0.007)
    assert dict(one.latency_buckets)[0.005] == 40 and dict(one.latency_buckets)[0.003] == 0
    assert (two.agreement_sum, two.agreement_count) == (2.0, 4)
    assert model_totals(m.registry.collect(), "m", "allocation")[2].cost_dollars == \
        pytest.approx(0.03)


def test_the_window_slides_over_the_readings() -> None:
    m, clock = Metrics(), Clock()
    source = NodeSource(families=m.registry.collect, clock=clock)
    record(m, "m", "1", 100, 0, 0.004, 0.01)  # before the first reading: never in a window
    first = source.window("m", 10)
    assert first.covered_s == 0 and first.versions[1].successes == 0
    for step in range(1, 4):  # a reading every 5 s, 10 runs of v1 and 2 of v2 before each
        clock.now += 5
        record(m, "m", "1", 10, 0, 0.004, 0.001)
        record(m, "m", "2", 2, 0, 0.040, 0.001)
        window = source.window("m", 10)
        assert window.covered_s == min(5 * step, 10)
        assert window.versions[1].successes == 10 * min(step, 2)  # at most the last two steps
        assert window.versions[2].successes == 2 * min(step, 2)  # v2 counts from its first sample
    stats = ArmStats.of(window.versions[2])
    assert stats.p95_s == pytest.approx(0.049)  # 4 answers in (0.03, 0.05]: 0.03 + 0.02 * 3.8 / 4


def test_a_counter_reset_starts_the_window_over() -> None:
    lives, clock = [Metrics()], Clock()
    source = NodeSource(families=lambda: lives[-1].registry.collect(), clock=clock)
    record(lives[-1], "m", "1", 50, 0, 0.004, 0.01)
    source.window("m", 60)
    clock.now += 5
    lives.append(Metrics())  # the application restarted: its files were wiped
    record(lives[-1], "m", "1", 3, 0, 0.004, 0.01)
    window = source.window("m", 60)
    assert window.covered_s == 0 and window.versions[1].successes == 0
    clock.now += 5
    record(lives[-1], "m", "1", 4, 0, 0.004, 0.01)
    assert source.window("m", 60).versions[1].successes == 4


def test_a_refusing_guard_is_an_error_of_the_source() -> None:
    def several_nodes() -> None:
        raise MetricsSourceError("the Ray cluster has 3 nodes")

    with pytest.raises(MetricsSourceError, match="3 nodes"):
        NodeSource(families=Metrics().registry.collect, guard=several_nodes).window("m", 60)


WRITER = """
import sys
from tests.services.test_canary_sources import record
from services.metrics import metrics
record(metrics(), "mp", sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), 0.01)
"""


def _write(path: Path, *args: str) -> None:
    environment = {**runtime_env_vars(path), "PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-c", WRITER, *args], cwd=ROOT, env=environment,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_the_node_source_adds_up_every_process_of_the_node(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    path = prepare_directory(tmp_path / "metrics")
    monkeypatch.setenv(MULTIPROC_ENV, str(path))
    clock = Clock()
    source = NodeSource(clock=clock)  # the node's files, as the deployment reads them
    source.window("mp", 30)
    _write(path, "1", "60", "0", "0.004")  # two host replicas and their gateway, say
    _write(path, "1", "40", "1", "0.004")
    _write(path, "2", "20", "5", "0.2")
    clock.now += 5
    window = source.window("mp", 30)
    production, canary = ArmStats.of(window.versions[1]), ArmStats.of(window.versions[2])
    assert (production.runs, production.failures, canary.runs, canary.failures) == (101, 1, 25, 5)
    assert production.p95_s == pytest.approx(0.003 + 0.002 * 95 / 100)  # 100 in (3, 5] ms
    assert canary.p95_s == pytest.approx(0.15 + 0.1 * 19 / 20)  # 20 answers in (150, 250] ms
    assert canary.cost_per_1k == pytest.approx(1000 * 0.01 / 20)


# ---- Prometheus ---------------------------------------------------------------------------------

@pytest.fixture
def scraped(tmp_path: Path):
    """A private registry served over HTTP and a real Prometheus scraping it every second."""
    from prometheus_client import CollectorRegistry, start_http_server

    from tests.e2e_prometheus.server import BINARY, PrometheusServer, which

    binary = which(BINARY)
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("prometheus is missing: scripts/provision.sh installs Debian's prometheus")
        pytest.skip("prometheus is not installed (apt-get install prometheus)")
    m = Metrics(CollectorRegistry())
    port = free_port()
    server, thread = start_http_server(port, addr="127.0.0.1", registry=m.registry)
    prometheus = PrometheusServer(tmp_path / "prometheus", target=f"127.0.0.1:{port}",
                                  port=free_port(), binary=binary)
    (tmp_path / "prometheus").mkdir()
    prometheus.start()
    try:
        yield m, prometheus
    finally:
        prometheus.stop()
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def _scrapes(prometheus, at_least: int, timeout_s: float = 30) -> None:
    prometheus.wait_for('count_over_time(zhijian_inferences_total{model="pm"}[1m])',
                        lambda s: bool(s) and min(v for _, v in s) >= at_least, timeout=timeout_s)


@pytest.mark.timeout(90)
def test_prometheus_gives_the_same_numbers_as_the_node(scraped) -> None:
    m, prometheus = scraped
    for version in ("1", "2"):  # the series exist (at zero) before the window's traffic
        record(m, "pm", version, 0, 0, 0.004, 0.0, agreement=(0, 1.0))
    _scrapes(prometheus, 2)
    node = NodeSource(families=m.registry.collect)
    node.window("pm", 60)
    record(m, "pm", "1", 200, 2, 0.004, 0.02)
    record(m, "pm", "2", 100, 10, 0.040, 0.03, agreement=(50, 0.9))
    time.sleep(1.5)
    _scrapes(prometheus, 5)
    # wait until the last scrape holds everything recorded
    prometheus.wait_for('sum(zhijian_inferences_total{model="pm"})',
                        lambda s: bool(s) and s[0][1] == 312)
    ours = PrometheusSource(prometheus.url, timeout_s=10).window("pm", 60)
    theirs = node.window("pm", 60)
    for version in (1, 2):
        a, b = ArmStats.of(ours.versions[version]), ArmStats.of(theirs.versions[version])
        # increase() extrapolates each series to the window's ends: counts scale, and ratios stay
        # but for a scrape that fell between two counters' updates
        assert a.runs == pytest.approx(b.runs, rel=0.5) and a.runs >= b.runs * 0.99
        assert a.error_ratio == pytest.approx(b.error_ratio, rel=0.01)
        assert a.p95_s == pytest.approx(b.p95_s, rel=0.01)
        assert a.cost_per_1k == pytest.approx(b.cost_per_1k, rel=0.01)
    assert ArmStats.of(ours.versions[2]).agreement == pytest.approx(0.9, rel=0.01)
    assert ArmStats.of(ours.versions[1]).error_ratio == pytest.approx(2 / 202, rel=0.01)


def test_an_unreachable_or_wrong_prometheus_is_an_error_of_the_source() -> None:
    from prometheus_client import CollectorRegistry, start_http_server

    with pytest.raises(MetricsSourceError, match="cannot query Prometheus"):
        PrometheusSource(f"http://127.0.0.1:{free_port()}", timeout_s=2).window("pm", 60)
    port = free_port()
    server, thread = start_http_server(port, addr="127.0.0.1", registry=CollectorRegistry())
    try:  # something else answers: text, not Prometheus' JSON
        with pytest.raises(MetricsSourceError, match="Prometheus"):
            PrometheusSource(f"http://127.0.0.1:{port}", timeout_s=2).window("pm", 60)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)

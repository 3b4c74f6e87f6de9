"""Test-wide settings: offline hubs, a private ZhiJian home, and time limits by marker."""

from __future__ import annotations

import os

import pytest

from services.net import free_port  # noqa: F401  (the tests import it from here)

# No test may reach a model hub: every model is tiny and random, or packaged.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

# Time limits (seconds) by marker; a test's own @pytest.mark.timeout wins.
MARKER_TIMEOUTS = {"e2e": 600, "realptm": 300}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("timeout") is not None:
            continue
        for marker, seconds in MARKER_TIMEOUTS.items():
            if item.get_closest_marker(marker) is not None:
                item.add_marker(pytest.mark.timeout(seconds))
                break


@pytest.fixture(autouse=True)
def _zhijian_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs stored by a test go to a private folder, never to the checkout's ``.zhijian``."""
    monkeypatch.setenv("ZHIJIAN_HOME", str(tmp_path_factory.mktemp("zhijian-home")))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)


class RayServe:
    """The one local Ray (with Serve on a free port) that the end-to-end tests share.

    Ray's workers inherit the environment of the moment Ray starts, so the cluster has its own
    ZhiJian home and admin token: a test using it must use :attr:`home` (see :meth:`use`).
    """

    def __init__(self, root) -> None:
        self.home = root / "zhijian-home"
        self.token = "e2e-admin-token-0123456789abcdef"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        import ray
        from ray import serve
        from ray.serve.config import HTTPOptions

        from services.serve.ingress import use_haproxy

        os.environ["ZHIJIAN_HOME"] = str(self.home)
        os.environ["ZHIJIAN_ADMIN_TOKEN"] = self.token
        use_haproxy()  # as zhijian serve does
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
                 logging_level="WARNING", configure_logging=False)
        serve.start(http_options=HTTPOptions(host="127.0.0.1", port=self.port,
                                             request_timeout_s=60),
                    logging_config={"enable_access_log": False, "log_level": "WARNING"})

    def use(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Point this test's registry at the cluster's home (and token)."""
        monkeypatch.setenv("ZHIJIAN_HOME", str(self.home))
        monkeypatch.setenv("ZHIJIAN_ADMIN_TOKEN", self.token)

    def run(self, app, name: str = "zhijian") -> None:
        from ray import serve

        serve.run(app, name=name, route_prefix="/", logging_config={"enable_access_log": False})

    def stop(self) -> None:
        import ray
        from ray import serve

        serve.shutdown()
        ray.shutdown()
        os.environ.pop("ZHIJIAN_ADMIN_TOKEN", None)


@pytest.fixture(scope="session")
def ray_serve(tmp_path_factory: pytest.TempPathFactory):
    """The shared local Ray + Serve of the end-to-end tests (started on first use)."""
    from services.serve.ingress import DRAINING, ENABLE, FILES, PORTS, REPLICA_PORTS

    saved = {k: os.environ.get(k) for k in ("ZHIJIAN_HOME", "ZHIJIAN_ADMIN_TOKEN", ENABLE, DRAINING,
                                             *FILES, *PORTS, *REPLICA_PORTS)}
    cluster = RayServe(tmp_path_factory.mktemp("ray"))
    cluster.start()
    for key, value in saved.items():  # the driver's environment as it was
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    yield cluster
    cluster.stop()


@pytest.fixture(scope="session")
def prometheus(ray_serve, tmp_path_factory: pytest.TempPathFactory):
    """A real Prometheus (Debian's package) on 127.0.0.1 and a free port, for the whole session:
    it scrapes the shared Ray Serve's ``/metrics`` every second and evaluates
    ``deploy/prometheus/rules/*.yaml`` every second (see tests/e2e_prometheus/server.py)."""
    from tests.e2e_prometheus.server import BINARY, PrometheusServer, which

    binary = which(BINARY)
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("prometheus is missing: scripts/provision.sh installs Debian's prometheus")
        pytest.skip("prometheus is not installed (apt-get install prometheus)")
    server = PrometheusServer(tmp_path_factory.mktemp("prometheus"),
                              target=ray_serve.url.removeprefix("http://"), port=free_port(),
                              binary=binary)
    server.start()
    yield server
    server.stop()

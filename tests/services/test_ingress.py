"""The HAProxy ingress settings of a Ray started here: their own files and ports per Ray, short
enough paths for HAProxy's sockets."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from services.serve.ingress import (DRAINING, ENABLE, FILES, MAX_DIRECTORY, PORTS, PROXY_CHECKS,
                                    REPLICA_PORTS, haproxy_env, replica_port_windows, use_haproxy)


def test_the_environment_names_every_file_in_the_directory() -> None:
    env = haproxy_env(Path("/tmp/zjh-abc"), ports=(1234, 5678))
    assert env[ENABLE] == "1" and float(env[DRAINING]) < 30
    assert all(float(env[key]) >= 30 for key in PROXY_CHECKS)  # a busy node's HAProxy start
    assert [env[key] for key in PORTS] == ["1234", "5678"]
    assert env["RAY_SERVE_HAPROXY_SERVER_STATE_BASE"] == "/tmp/zjh-abc"
    assert all(env[key].startswith("/tmp/zjh-abc") for key in FILES)


def test_two_rays_get_their_own_directories_and_ports(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in (ENABLE, DRAINING, *PROXY_CHECKS, *FILES, *PORTS, *REPLICA_PORTS):
        monkeypatch.delenv(key, raising=False)
    first = use_haproxy()
    ports = [os.environ[key] for key in PORTS]
    second = use_haproxy()
    assert first != second and len(str(second)) <= MAX_DIRECTORY
    assert os.environ["RAY_SERVE_HAPROXY_CONFIG_FILE_LOC"] == str(second / "haproxy.cfg")
    # Ray adds a 56-character node-id folder: the longest socket path stays under HAProxy's 97
    assert len(f"{second}/{'n' * 56}/metrics.sock") <= 97
    assert len(set(ports + [os.environ[key] for key in PORTS])) >= 3
    first.rmdir()
    second.rmdir()


def test_replica_ports_come_from_a_window_of_this_ray() -> None:
    windows = [replica_port_windows(random.Random(seed)) for seed in range(50)]
    for window in windows:
        http_low, http_high, grpc_low, grpc_high = (int(window[key]) for key in REPLICA_PORTS)
        assert 20000 <= http_low < http_high <= 26000 <= grpc_low < grpc_high <= 32000
        assert http_high - http_low == grpc_high - grpc_low == 100
    assert len({w[REPLICA_PORTS[0]] for w in windows}) > 10  # two Rays rarely share one


@pytest.mark.timeout(60)
def test_the_directory_goes_with_the_process_that_made_it() -> None:
    script = ("from services.serve.ingress import use_haproxy\n"
              "d = use_haproxy(); (d / 'haproxy.cfg').write_text('x'); print(d)")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True, timeout=50).stdout.strip()
    assert out.startswith("/") and "zjh-" in out
    assert not Path(out).exists()

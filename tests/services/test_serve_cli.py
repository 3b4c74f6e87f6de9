"""``zhijian serve``: refuses to start without a token; starts Ray, serves, stops on Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import free_port
from tests.services.bundles import make_image_bundle
from zhijian_core.errors import ConfigError
from zhijian_core.registry.admin_client import AdminClient, configured_client

ZHIJIAN = [sys.executable, "-m", "zhijian_core.cli.main"]


def test_serve_refuses_to_start_without_an_admin_token(monkeypatch: pytest.MonkeyPatch) -> None:
    env = {k: v for k, v in os.environ.items() if k != "ZHIJIAN_ADMIN_TOKEN"}
    done = subprocess.run([*ZHIJIAN, "serve", "--port", str(free_port())], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "ZHIJIAN_ADMIN_TOKEN" in done.stderr and "--local-dev" in done.stderr


def test_the_admin_client_needs_an_http_url_and_a_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ZHIJIAN_ADMIN_URL", raising=False)
    assert configured_client() is None
    with pytest.raises(ConfigError, match="not an http"):
        AdminClient("ftp://x", "t" * 20)
    monkeypatch.setenv("ZHIJIAN_ADMIN_URL", "http://127.0.0.1:1")
    monkeypatch.setenv("ZHIJIAN_ADMIN_TOKEN", "")
    with pytest.raises(ConfigError, match="ZHIJIAN_ADMIN_TOKEN is empty"):
        configured_client()


@pytest.mark.e2e
def test_serve_starts_ray_serves_the_production_model_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    from zhijian_core.registry import Registry, promote

    registry = Registry()
    registry.register(make_image_bundle(tmp_path / "b1", name="cli-images"), "cli-images")
    promote(registry, "cli-images", 1, "production", actor="test")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "ZHIJIAN_ADMIN_TOKEN"}
    process = subprocess.Popen([*ZHIJIAN, "serve", "--port", str(port), "--local-dev",
                                "--num-cpus", "2"], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    try:
        while not lines or "press Ctrl-C" not in lines[-1]:
            line = process.stdout.readline()
            assert line, "zhijian serve exited early:\n" + "".join(lines)
            lines.append(line)
        output = "".join(lines)
        assert "serving cli-images: production v1" in output
        token_file = Path(os.environ["ZHIJIAN_HOME"]) / "admin-token"
        assert f"admin token (generated for local development): {token_file}" in output
        assert token_file.stat().st_mode & 0o777 == 0o600
        token = token_file.read_text().strip()
        assert token not in output
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/models/cli-images/ready",
                                    timeout=30) as answer:
            assert answer.status == 200
    finally:
        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=120)
    assert process.returncode == 0, rest
    assert rest.strip().endswith("stopped")

"""The service refuses an environment with both ONNX Runtime distributions."""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata

import pytest

from services import environment
from services.errors import EnvironmentConflictError


def test_this_environment_has_exactly_one_onnxruntime() -> None:
    found = environment.installed_distributions(environment.ORT_DISTRIBUTIONS)
    assert len(found) == 1, found
    environment.check_single_onnxruntime()


def test_both_distributions_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    real_version = metadata.version

    def fake_version(name: str) -> str:
        return "1.32.0" if name == "onnxruntime-gpu" else real_version(name)

    monkeypatch.setattr(environment.metadata, "version", fake_version)
    with pytest.raises(EnvironmentConflictError, match="both ONNX Runtime distributions"):
        environment.check_single_onnxruntime()
    assert environment.main() == 1


def test_module_entry_point_exits_zero_here() -> None:
    done = subprocess.run([sys.executable, "-m", "services.environment"], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr

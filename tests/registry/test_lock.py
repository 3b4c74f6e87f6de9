"""The writer lock, and the registry's import hygiene."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from zhijian_core.errors import RegistryLockError
from zhijian_core.registry.lock import WriterLock


def test_a_held_lock_times_out_with_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "registry.lock"
    with WriterLock(path):
        waiting = WriterLock(path, timeout_s=0.1)
        assert not waiting.try_acquire()
        with pytest.raises(RegistryLockError, match="another registry writer has held .*registry.lock"):
            waiting.acquire()
    with WriterLock(path, timeout_s=0.1):  # released on exit
        pass


def test_importing_the_registry_loads_neither_torch_nor_mlflow() -> None:
    code = ("import sys, zhijian_core.registry, zhijian_core.names, zhijian_core.cli.registry; "
            "print(sorted(m for m in ('torch', 'mlflow', 'onnx') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).resolve().parents[2])
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"

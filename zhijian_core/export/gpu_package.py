"""Proof that the GPU package accepts a bundle: load it with ``onnxruntime-gpu`` in a side env.

``onnxruntime`` and ``onnxruntime-gpu`` cannot share an environment (both install the module
``onnxruntime``), so the check runs :mod:`zhijian_core.export.ort_gpu_probe` with the Python of a
side environment holding ``onnxruntime-gpu`` only (``make ort-gpu-env`` creates
``.venv-ort-gpu``). Without a GPU the package runs on the CPU provider: the check proves that it
accepts the graph's opset, IR version and operators, not GPU speed.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from zhijian_core.bundle.manifest import GpuPackageLoad
from zhijian_core.errors import ConfigError, ExportError

PYTHON_ENV = "ZHIJIAN_ORT_GPU_PYTHON"
"""Environment variable naming the side environment's Python; unset: the check is skipped."""
PROBE = Path(__file__).with_name("ort_gpu_probe.py")


def side_python() -> Path | None:
    """The side environment's Python from ``ZHIJIAN_ORT_GPU_PYTHON``, or ``None`` when unset.

    Raises:
        ConfigError: The variable names no executable file.
    """
    value = os.environ.get(PYTHON_ENV, "").strip()
    if not value:
        return None
    path = Path(value)
    if not (path.is_file() and os.access(path, os.X_OK)):
        raise ConfigError(f"{PYTHON_ENV}={value} is not an executable Python; create the side "
                          "environment with `make ort-gpu-env` or unset the variable")
    return path


def load_with_gpu_package(model: Path, python: Path, timeout: float = 300.0) -> GpuPackageLoad:
    """Load and run ``model`` once with ``onnxruntime-gpu`` through ``python``.

    Raises:
        ExportError: The probe could not run, or the GPU package refused the graph.
    """
    try:
        done = subprocess.run([str(python), str(PROBE), str(model)], capture_output=True,
                              text=True, timeout=timeout, env={**os.environ, "PYTHONPATH": ""})
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ExportError(f"the onnxruntime-gpu check could not run with {python}: {exc}") from exc
    try:
        report = json.loads(done.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError) as exc:
        raise ExportError(f"the onnxruntime-gpu check with {python} gave no report "
                          f"(exit {done.returncode}): {done.stderr.strip()[-500:]}") from exc
    if not report.get("ok"):
        raise ExportError(f"{report.get('package', 'onnxruntime-gpu')} refuses {model.name}: "
                          f"{report.get('error')}")
    return GpuPackageLoad(package=report["package"], providers=report["providers"])

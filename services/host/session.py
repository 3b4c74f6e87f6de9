"""ONNX Runtime sessions for served versions: the execution provider, threads, and the check that a
session configured for CUDA really runs on CUDA (``get_providers()``)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from services.errors import DeviceUnavailableError, NotReadyError
from services.host.config import HostConfig

if TYPE_CHECKING:
    import onnxruntime

CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"


def requested_providers(config: HostConfig, available: list[str]) -> list[str]:
    """Providers to ask ONNX Runtime for: CUDA first when configured and available, then the CPU.

    Asking for a provider the installed ONNX Runtime lacks only makes it warn; the check of
    :func:`check_providers` after creation is what decides.
    """
    if config.device == "cuda" and CUDA in available:
        return [CUDA, CPU]
    return [CPU]


def check_providers(config: HostConfig, active: list[str], available: list[str]) -> str:
    """The device a session really runs on (``cuda`` or ``cpu``).

    Raises:
        DeviceUnavailableError: Configured for CUDA, the session lacks the CUDA provider and
            ``allow_cpu_fallback`` is off.
    """
    if CUDA in active:
        return "cuda"
    if config.device == "cuda" and not config.allow_cpu_fallback:
        raise DeviceUnavailableError(
            f"configured for CUDA but the ONNX Runtime session runs on {active} (available providers: "
            f"{available}); install the ort-gpu extra on a GPU machine, or set allow_cpu_fallback")
    return "cpu"


def create_session(model: Path, config: HostConfig) -> tuple["onnxruntime.InferenceSession", str]:
    """Create the session of ``model`` and return it with the device it runs on.

    Raises:
        DeviceUnavailableError: See :func:`check_providers`.
        NotReadyError: ONNX Runtime cannot load the graph.
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.intra_op_num_threads = config.intra_op_threads
    options.inter_op_num_threads = 1
    if not config.spinning:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    available = ort.get_available_providers()
    try:
        session = ort.InferenceSession(str(model), options,
                                       providers=requested_providers(config, available))
    except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph types
        raise NotReadyError(f"ONNX Runtime cannot load {model}: {exc}") from exc
    return session, check_providers(config, session.get_providers(), available)

"""ONNX Runtime sessions and timing for exported graphs (CPU execution provider)."""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import TYPE_CHECKING, Mapping

import numpy as np

from zhijian_core.errors import ExportError, MissingDependencyError

if TYPE_CHECKING:
    import onnxruntime


def cpu_session(model: bytes | Path, spinning: bool = False) -> "onnxruntime.InferenceSession":
    """An ONNX Runtime session on the CPU execution provider.

    Args:
        model: The serialized graph, or the path of a ``model.onnx``.
        spinning: Let idle worker threads spin (ONNX Runtime's default, best for latency). Off for
            the export's checks: on a busy machine spinning threads only burn others' CPU time.

    Raises:
        ExportError: ONNX Runtime cannot load the graph.
        MissingDependencyError: onnxruntime is not installed.
    """
    try:
        import onnxruntime as ort
    except ImportError as exc:
        raise MissingDependencyError("running ONNX graphs needs onnxruntime: "
                                     "pip install 'zhijian[export]'") from exc
    options = ort.SessionOptions()
    options.log_severity_level = 3  # errors only: ONNX Runtime's notices are not ours to show
    if not spinning:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    source = str(model) if isinstance(model, Path) else model
    try:
        return ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph types
        what = model if isinstance(model, Path) else "the exported graph"
        raise ExportError(f"ONNX Runtime cannot load {what}: {exc}") from exc


def run_session(session: "onnxruntime.InferenceSession",
                inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Run ``session`` on named inputs; return every output by name."""
    names = [output.name for output in session.get_outputs()]
    feeds = {i.name: np.ascontiguousarray(inputs[i.name]) for i in session.get_inputs()}
    return dict(zip(names, session.run(names, feeds)))


def median_latency_ms(session: "onnxruntime.InferenceSession", inputs: Mapping[str, np.ndarray],
                      repeats: int, warmup: int = 2) -> float:
    """Median wall milliseconds of one ``session.run`` on ``inputs`` (after ``warmup`` runs).

    Args:
        session: The session to time.
        inputs: One batch, by input name.
        repeats: Timed runs (at least 1).
        warmup: Untimed runs first.
    """
    times = []
    for i in range(warmup + max(1, repeats)):
        start = time.perf_counter()
        run_session(session, inputs)
        if i >= warmup:
            times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000.0

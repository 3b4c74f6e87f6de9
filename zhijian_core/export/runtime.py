"""ONNX Runtime sessions and timing for exported graphs (CPU execution provider)."""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import TYPE_CHECKING, Mapping, Sequence

import numpy as np

from zhijian_core.errors import ExportError, MissingDependencyError

if TYPE_CHECKING:
    import onnxruntime


def cpu_session(model: bytes | Path, spinning: bool = False,
                threads: int | None = None) -> "onnxruntime.InferenceSession":
    """An ONNX Runtime session on the CPU execution provider.

    Args:
        model: The serialized graph, or the path of a ``model.onnx``.
        spinning: Let idle worker threads spin (ONNX Runtime's default, best for latency). Off for
            the export's checks: on a busy machine spinning threads only burn others' CPU time.
        threads: Intra-op threads (ONNX Runtime's default, one per physical core, otherwise).

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
    if threads is not None:
        options.intra_op_num_threads = threads
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


def interleaved_latency_ms(sessions: Sequence["onnxruntime.InferenceSession"],
                           inputs: Mapping[str, np.ndarray], rounds: int,
                           warmup: int = 2) -> list[float]:
    """Median milliseconds per run of each session, timed in interleaved rounds.

    Each round runs every session once, in turn, so that a change in the machine's load affects
    all of them alike: ratios of the medians are comparable even on a shared machine.

    Args:
        sessions: The sessions to compare (same inputs).
        inputs: One batch, by input name.
        rounds: Timed rounds (at least 1).
        warmup: Untimed rounds first.
    """
    times: list[list[float]] = [[] for _ in sessions]
    for i in range(warmup + max(1, rounds)):
        for session, bucket in zip(sessions, times):
            start = time.perf_counter()
            run_session(session, inputs)
            if i >= warmup:
                bucket.append(time.perf_counter() - start)
    return [statistics.median(bucket) * 1000.0 for bucket in times]

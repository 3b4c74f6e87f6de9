"""Graph transforms an export may apply to a bundle's ONNX graph: bytes in, bytes out.

Each transform is exact in intent but not in numbers; :mod:`zhijian_core.export.optimize` measures
every result (quality, parity, speed) before it is kept. The transforms only use ONNX Runtime's own
tooling, so the graphs stay loadable by ``onnxruntime`` and ``onnxruntime-gpu`` alike:

* ``fuse_transformer``: ONNX Runtime's transformer optimizer (model type ``bert`` or ``vit``) fuses
  attention, skip-layer-norm and bias-GELU into its contrib operators. Run at optimizer level 0 so
  that no execution-provider-specific node is written into the file.
* ``basic_optimize``: ONNX Runtime's BASIC offline level (constant folding, redundant-node removal),
  which is provider-independent; used for graphs the transformer optimizer does not know.
* ``int8_dynamic``: dynamic quantization with per-channel int8 weights (transformers: on a fused
  graph the attention becomes ``QAttention``).
* ``int8_qdq``: static QDQ quantization, per-channel int8 weights and uint8 activations whose ranges
  are calibrated on real preprocessed training inputs (CNNs; dynamic quantization slows them down).
* ``to_fp16``: float16 weights and activations with float32 graph inputs and outputs (GPU bundles).
"""

from __future__ import annotations

import logging
import tempfile
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Mapping, Sequence

import numpy as np

from zhijian_core.errors import ExportError, MissingDependencyError


@contextmanager
def _quiet() -> Iterator[None]:
    """Silence ONNX Runtime tooling's advice printed through ``logging`` and ``warnings``."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        root.setLevel(level)


def _tools():
    try:
        import onnx
        import onnxruntime
    except ImportError as exc:
        raise MissingDependencyError("optimizing a bundle needs onnx and onnxruntime") from exc
    return onnx, onnxruntime


def fuse_transformer(model: bytes, model_type: str, num_heads: int, hidden_size: int) -> bytes:
    """Fuse a transformer encoder graph with ONNX Runtime's transformer optimizer.

    Args:
        model: The fp32 graph.
        model_type: ``bert`` (text encoders) or ``vit``.
        num_heads: Attention heads per layer (fusion needs them; auto-detection fails on these
            graphs).
        hidden_size: Width of the hidden states.

    Raises:
        ExportError: The optimizer failed, or fused no attention (nothing to gain).
    """
    onnx, _ = _tools()
    from onnxruntime.transformers import optimizer

    with tempfile.TemporaryDirectory() as tmp, _quiet():
        source = Path(tmp) / "in.onnx"
        source.write_bytes(model)
        try:
            fused = optimizer.optimize_model(str(source), model_type=model_type,
                                             num_heads=num_heads, hidden_size=hidden_size,
                                             opt_level=0, use_gpu=False)
        except Exception as exc:  # the optimizer raises whatever its fusions raise
            raise ExportError(f"ONNX Runtime's transformer optimizer failed: {exc}") from exc
        stats = fused.get_fused_operator_statistics()
        if not stats.get("Attention") and not stats.get("MultiHeadAttention"):
            raise ExportError("ONNX Runtime's transformer optimizer fused no attention in this graph")
        proto = fused.model
        domains = {node.domain for node in proto.graph.node if node.domain}
        declared = {entry.domain for entry in proto.opset_import}
        for domain in sorted(domains - declared):  # contrib operators need their domain declared
            proto.opset_import.append(onnx.helper.make_opsetid(domain, 1))
        return proto.SerializeToString()


def basic_optimize(model: bytes) -> bytes:
    """ONNX Runtime's provider-independent BASIC graph optimizations, saved offline."""
    _, ort = _tools()
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / "out.onnx"
        options = ort.SessionOptions()
        options.log_severity_level = 3
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
        options.optimized_model_filepath = str(target)
        try:
            ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
        except Exception as exc:
            raise ExportError(f"ONNX Runtime cannot optimize the graph: {exc}") from exc
        return target.read_bytes()


def int8_dynamic(model: bytes) -> bytes:
    """Dynamic int8 quantization with per-channel weights (activations quantized at run time)."""
    onnx, _ = _tools()
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with tempfile.TemporaryDirectory() as tmp, _quiet():
        source, target = Path(tmp) / "in.onnx", Path(tmp) / "out.onnx"
        source.write_bytes(model)
        try:
            # Fused contrib operators have no ONNX shape inference: their outputs are float.
            quantize_dynamic(source, target, per_channel=True, weight_type=QuantType.QInt8,
                             extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
        except Exception as exc:
            raise ExportError(f"dynamic int8 quantization failed: {exc}") from exc
        return target.read_bytes()


def int8_qdq(model: bytes, calibration: Sequence[Mapping[str, np.ndarray]]) -> bytes:
    """Static QDQ int8: per-channel int8 weights, uint8 activations calibrated (min-max) on
    ``calibration``, a list of preprocessed batches of real training inputs."""
    onnx, _ = _tools()
    from onnxruntime.quantization import (CalibrationDataReader, QuantFormat, QuantType,
                                          quantize_static)

    class _Calibration(CalibrationDataReader):
        """Feeds ONNX Runtime's calibrator one preprocessed batch at a time."""

        def __init__(self) -> None:
            self._batches = iter(calibration)

        def get_next(self) -> dict[str, np.ndarray] | None:
            batch = next(self._batches, None)
            return None if batch is None else {k: np.ascontiguousarray(v) for k, v in batch.items()}

    reader = _Calibration()
    with tempfile.TemporaryDirectory() as tmp, _quiet():
        source, target = Path(tmp) / "in.onnx", Path(tmp) / "out.onnx"
        source.write_bytes(model)
        try:
            quantize_static(source, target, reader, quant_format=QuantFormat.QDQ, per_channel=True,
                            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
        except Exception as exc:
            raise ExportError(f"static QDQ int8 quantization failed: {exc}") from exc
        return target.read_bytes()


def to_fp16(model: bytes) -> bytes:
    """float16 weights and computation, float32 graph inputs and outputs (for GPU bundles)."""
    onnx, _ = _tools()
    from onnxruntime.transformers.float16 import convert_float_to_float16

    with _quiet():
        try:
            converted = convert_float_to_float16(onnx.load_from_string(model), keep_io_types=True)
        except Exception as exc:
            raise ExportError(f"float16 conversion failed: {exc}") from exc
    return converted.SerializeToString()

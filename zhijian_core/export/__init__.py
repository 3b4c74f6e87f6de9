"""Export a reused model to a verifiable ONNX bundle (``model.onnx``, assets, ``manifest.json``).

The export checks itself: ``onnx.checker``, ONNX Runtime against PyTorch on real validation inputs,
and the bundle's own evaluation (its ONNX session plus its preprocessing on the raw test inputs).
torch, onnx and onnxruntime are imported only when a function needs them.
"""

from __future__ import annotations

from zhijian_core.export.bundle_writer import (BundleSource, EvaluationData, trace_example,
                                               write_model_bundle)
from zhijian_core.export.evaluate import evaluate_classifier, evaluate_embedding, measure_latency
from zhijian_core.export.onnx_export import OPSET, OUTPUTS, OnnxGraph, export_onnx, graph_module
from zhijian_core.export.parity import DEFAULT_TOLERANCE, check_parity, parity_batches
from zhijian_core.export.sources import from_method, from_ptm, from_run

__all__ = [
    "DEFAULT_TOLERANCE",
    "OPSET",
    "OUTPUTS",
    "BundleSource",
    "EvaluationData",
    "OnnxGraph",
    "check_parity",
    "evaluate_classifier",
    "evaluate_embedding",
    "export_onnx",
    "from_method",
    "from_ptm",
    "from_run",
    "graph_module",
    "measure_latency",
    "parity_batches",
    "trace_example",
    "write_model_bundle",
]

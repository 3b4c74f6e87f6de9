"""The public surface of zhijian_core.export, and that importing it (or the bundle) stays light."""

from __future__ import annotations

import subprocess
import sys

import zhijian_core.export as export


def test_exported_members() -> None:
    assert sorted(export.__all__) == [
        "BundleSource", "DEFAULT_TOLERANCE", "EvaluationData", "OPSET", "OUTPUTS", "OnnxGraph",
        "check_parity", "evaluate_classifier", "evaluate_embedding", "export_onnx", "from_method",
        "from_ptm", "from_run", "graph_module", "measure_latency", "parity_batches",
        "trace_example", "write_model_bundle",
    ]
    for name in export.__all__:
        member = getattr(export, name)
        if callable(member):
            assert member.__doc__, f"{name} has no docstring"


def test_import_loads_no_heavy_dependency() -> None:
    code = ("import sys, zhijian_core.export, zhijian_core.bundle.io; "
            "print(sorted(m for m in ('torch', 'onnx', 'onnxruntime', 'mlflow') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"

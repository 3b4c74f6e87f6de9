"""Bundles load with onnxruntime-gpu in its side environment; a refused graph fails the export."""

from __future__ import annotations

from pathlib import Path

import onnx
import pytest
from onnx import TensorProto, helper

from zhijian_core.errors import ConfigError, ExportError
from zhijian_core.export.gpu_package import load_with_gpu_package, side_python


def _graph(tmp_path: Path, op: str, domain: str, ir_version: int) -> Path:
    node = helper.make_node(op, ["x"], ["y"], domain=domain)
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
    opsets = [helper.make_opsetid("", 17)] + ([helper.make_opsetid(domain, 1)] if domain else [])
    model = helper.make_model(graph, opset_imports=opsets)
    model.ir_version = ir_version
    onnx.save(model, tmp_path / "model.onnx")
    return tmp_path / "model.onnx"


@pytest.mark.parametrize(("op", "domain", "ir_version", "words"), [
    ("Relu", "", 8, None),
    ("NoSuchOp", "zhijian.test", 8, "NoSuchOp"),
    # What the check exists for: a newer onnx writes IR versions the runtime may not read yet.
    ("Relu", "", 99, "IR version"),
])
def test_the_gpu_package_loads_a_graph_or_refuses_it_by_name(
        gpu_package_python, tmp_path: Path, op: str, domain: str, ir_version: int,
        words: str | None) -> None:
    if gpu_package_python is None:
        pytest.skip("no onnxruntime-gpu side environment (make ort-gpu-env)")
    model = _graph(tmp_path, op, domain, ir_version)
    if words is None:
        load = load_with_gpu_package(model, gpu_package_python)
        assert load.package.startswith("onnxruntime-gpu ")
        assert load.providers == ["CPUExecutionProvider"]  # no GPU on these machines
        return
    with pytest.raises(ExportError, match=rf"onnxruntime-gpu \S+ refuses model.onnx: .*{words}"):
        load_with_gpu_package(model, gpu_package_python)


def test_a_bad_side_python_is_a_config_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ZHIJIAN_ORT_GPU_PYTHON", str(tmp_path / "nope"))
    with pytest.raises(ConfigError, match="make ort-gpu-env"):
        side_python()
    monkeypatch.setenv("ZHIJIAN_ORT_GPU_PYTHON", "")
    assert side_python() is None

"""Optional optimizations: each measured, recorded, and kept or refused by the rule."""

from __future__ import annotations

from pathlib import Path

import onnx
import pytest

from tests.experiment.conftest import write_idx_images
from zhijian_core.bundle.io import read_manifest, verify_bundle
from zhijian_core.data.config import DataConfig
from zhijian_core.export import BundleSource, from_method, write_model_bundle
from zhijian_core.export.optimize import (OptimizeConfig, OptimizeInputs, _decide,
                                          transformer_shape)
from zhijian_core.registry.gates import parity_verified_gate

_SOURCES: dict[str, BundleSource] = {}


@pytest.fixture
def text_source(task_data: dict) -> BundleSource:
    if "text" not in _SOURCES:
        dataset, ptm, _ = task_data["text"]
        data = DataConfig(dataset=dataset, train_size=40, val_size=20, test_size=30)
        _SOURCES["text"] = from_method("ncm", ptm, data, max_length=16)
    return _SOURCES["text"]


@pytest.fixture
def cnn_source(tmp_path_factory: pytest.TempPathFactory) -> BundleSource:
    """NCM on the tiny EfficientNet with 300 training images (enough to calibrate int8)."""
    if "cnn" not in _SOURCES:
        images = write_idx_images(tmp_path_factory.mktemp("calibration"), n=360, side=16)
        data = DataConfig(dataset=str(images), train_size=300, val_size=20, test_size=40)
        _SOURCES["cnn"] = from_method("ncm", "timm:test_efficientnet", data, image_size=32)
    return _SOURCES["cnn"]


def _ops(bundle: Path) -> set[str]:
    return {node.op_type for node in onnx.load(str(bundle / "model.onnx")).graph.node}


def test_the_attention_shape_is_found_in_transformers_only(text_source: BundleSource,
                                                           cnn_source: BundleSource) -> None:
    shape = transformer_shape(text_source.module)
    assert shape is not None and shape.model_type == "bert"
    config = text_source.module.backbone.model.config
    assert (shape.num_heads, shape.hidden_size) == (config.num_attention_heads, config.hidden_size)
    assert transformer_shape(cnn_source.module) is None


def test_forced_text_optimizations_are_applied_recorded_and_evaluated(
        text_source: BundleSource, tmp_path: Path, gpu_package_python) -> None:
    config = OptimizeConfig(optimizations=("int8", "graph"), force=True, timing_rounds=3)
    manifest = write_model_bundle(text_source, "tiny-int8", tmp_path / "b", optimize_config=config)
    records = manifest.evidence.optimizations
    assert [r.kind for r in records] == ["graph", "int8-dynamic"]  # fixed order
    assert all(r.applied for r in records)
    for record in records:
        assert record.reason and record.max_abs_diff is not None
        assert record.speedup_b1 and record.speedup_b1 > 0 and record.speedup_b32 > 0
        assert record.quality_change is not None
        assert record.forced == record.reason.startswith("forced although")
    assert records[0].max_abs_diff < 1e-4  # fusion is exact within the parity tolerance
    assert {"Attention", "QAttention"} & _ops(tmp_path / "b") or "MatMulInteger" in _ops(tmp_path / "b")
    assert "DynamicQuantizeLinear" in _ops(tmp_path / "b") or "QAttention" in _ops(tmp_path / "b")
    assert manifest.evidence.parity.verified  # fp32 parity with PyTorch still holds
    assert manifest.evidence.evaluation is not None
    verify_bundle(tmp_path / "b")
    assert read_manifest(tmp_path / "b") == manifest
    # the fused, quantized graph (contrib operators) also loads with onnxruntime-gpu
    assert gpu_package_python is None or manifest.evidence.gpu_package is not None


def test_static_int8_needs_256_calibration_images(cnn_source: BundleSource, tmp_path: Path,
                                                  gpu_package_python) -> None:
    few = BundleSource(**{**cnn_source.__dict__,
                          "calibration_inputs": cnn_source.calibration_inputs[:100]})
    config = OptimizeConfig(optimizations=("int8",), force=True, timing_rounds=3)
    refused = write_model_bundle(few, "tiny-cnn", tmp_path / "few", optimize_config=config)
    (record,) = refused.evidence.optimizations
    assert (record.kind, record.applied) == ("int8-qdq", False) and "256" in record.reason
    assert "QuantizeLinear" not in _ops(tmp_path / "few")

    kept = write_model_bundle(cnn_source, "tiny-cnn", tmp_path / "all", optimize_config=config)
    (record,) = kept.evidence.optimizations
    assert (record.kind, record.applied) == ("int8-qdq", True)
    assert {"QuantizeLinear", "DequantizeLinear"} <= _ops(tmp_path / "all")
    assert kept.evidence.evaluation is not None and record.quality_change is not None
    assert gpu_package_python is None or kept.evidence.gpu_package is not None


def test_fp16_is_kept_unverified_and_the_production_gate_refuses_it(
        text_source: BundleSource, tmp_path: Path, gpu_package_python) -> None:
    config = OptimizeConfig(optimizations=("fp16",), timing_rounds=3)
    manifest = write_model_bundle(text_source, "tiny-fp16", tmp_path / "b", optimize_config=config)
    (record,) = manifest.evidence.optimizations
    assert record.kind == "fp16" and record.applied and "GPU" in record.reason
    assert record.speedup_b1 is None  # CPU timings say nothing about a GPU
    graph = onnx.load(str(tmp_path / "b" / "model.onnx"))
    assert any(init.data_type == onnx.TensorProto.FLOAT16 for init in graph.graph.initializer)
    assert all(i.type.tensor_type.elem_type != onnx.TensorProto.FLOAT16 for i in graph.graph.output)
    assert manifest.evidence.parity.verified is False
    assert parity_verified_gate(manifest).status == "failed"
    assert gpu_package_python is None or manifest.evidence.gpu_package is not None


def _inputs(tolerance: float = 1e-4) -> OptimizeInputs:
    return OptimizeInputs(parity_batch={}, batch_1={}, batch_32={}, evaluate=None,
                          calibration=None, transformer=None, tolerance=tolerance)


@pytest.mark.parametrize("kind, figures, change, kept, words", [
    ("int8-dynamic", {"max_abs_diff": 0.01, "speedup_b1": 2.0, "speedup_b32": 1.9}, -0.5, True,
     "speedup 2.00x"),
    ("int8-dynamic", {"max_abs_diff": 0.01, "speedup_b1": 2.0, "speedup_b32": 1.9}, -1.5, False,
     "loses 1.50 points"),
    ("int8-qdq", {"max_abs_diff": 0.01, "speedup_b1": 1.0, "speedup_b32": 0.9}, 0.0, False,
     "not faster"),
    ("int8-qdq", {"max_abs_diff": 0.01, "speedup_b1": 1.5, "speedup_b32": 1.5}, None, False,
     "no evaluation data"),
    ("graph", {"max_abs_diff": 1e-3, "speedup_b1": 1.5, "speedup_b32": 1.5}, 0.0, False,
     "over the parity tolerance"),
    ("graph", {"max_abs_diff": 1e-7, "speedup_b1": 1.2, "speedup_b32": 1.1}, None, True,
     "geometric mean 1.15"),
    ("fp16", {"max_abs_diff": 1e-3, "speedup_b1": None, "speedup_b32": None}, -0.2, True,
     "unverified"),
    ("fp16", {"max_abs_diff": None, "speedup_b1": None, "speedup_b32": None}, -3.0, False,
     "loses 3.00 points"),
])
def test_the_rule_keeps_only_what_is_faster_and_loses_at_most_the_limit(
        kind: str, figures: dict, change: float | None, kept: bool, words: str) -> None:
    decision, reason = _decide(kind, figures, change, _inputs(), OptimizeConfig())
    assert decision is kept and words in reason


def test_invalid_optimization_options_are_config_errors() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        OptimizeConfig(optimizations=("int4",))
    with pytest.raises(ValidationError):
        OptimizeConfig(calibration_examples=100)

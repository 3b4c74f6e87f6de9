"""Every first method's finalized module exports, matches PyTorch, verifies and evaluates itself."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.export.conftest import BACKBONES, FIRST_METHODS
from zhijian_core.bundle.io import verify_bundle
from zhijian_core.export import from_run, write_model_bundle


@pytest.mark.parametrize("method", FIRST_METHODS)
@pytest.mark.parametrize("backbone", BACKBONES)
def test_every_first_method_exports_a_verified_bundle(backbone: str, method: str, stored_runs,
                                                      tmp_path: Path, gpu_package_python) -> None:
    store, results = stored_runs(backbone)
    result = results[method]
    out = tmp_path / "bundle"
    manifest = write_model_bundle(from_run(result.run_id, store), f"tiny-{backbone}-{method}", out)

    assert verify_bundle(out) == manifest
    parity = manifest.evidence.parity
    assert parity.passed and parity.max_abs_diff < 1e-4 and parity.tolerance == 1e-4
    assert parity.batch_sizes == [1, 4, 20]  # 32 capped at the 20 validation examples
    assert parity.sequence_lengths == ([8, 16] if backbone == "text" else None)
    # The bundle's own evaluation (ONNX + the preprocessing module on raw test inputs) agrees
    # with the PyTorch evaluation of the run, on the very same split.
    evaluation = manifest.evidence.evaluation
    assert evaluation.dataset_fingerprint == result.data_fingerprint
    assert evaluation.examples == 30
    assert evaluation.accuracy == pytest.approx(result.quality.accuracy, abs=1 / 30 + 1e-9)
    assert manifest.evidence.latency_ms_b1 > 0 and manifest.evidence.latency_ms_b32 > 0
    if gpu_package_python is not None:  # the GPU package accepts the graph (CPU fallback here)
        assert manifest.evidence.gpu_package.package.startswith("onnxruntime-gpu ")
        assert manifest.evidence.gpu_package.providers[-1] == "CPUExecutionProvider"
    lineage = manifest.lineage
    assert (lineage.run_id, lineage.method.name, lineage.method.family) == (
        result.run_id, method, result.family)
    assert lineage.ptm.digest == result.ptm_digest and lineage.dataset.fingerprint == result.data_fingerprint
    assert manifest.task.labels == list(store.load(result.run_id).label_names)
    names = [t.name for t in manifest.io.inputs]
    assert [t.name for t in manifest.io.outputs] == ["probabilities", "logits"]
    if backbone == "text":
        assert names == ["input_ids", "attention_mask"]
        assert manifest.io.inputs[0].shape == ["batch", "sequence"]
        assert set(manifest.files) == {"model.onnx", "tokenizer.json", "labels.json"}
    else:
        assert names == ["pixel_values"] and manifest.io.inputs[0].shape == ["batch", 3, 32, 32]
        assert set(manifest.files) == {"model.onnx", "labels.json"}
    assert manifest.opset == 17
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bundle"]  # no temporary left

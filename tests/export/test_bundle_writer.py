"""The bundle writer: a training-free method exported end to end; failures leave nothing behind."""

from __future__ import annotations

import errno
import json
from pathlib import Path

import numpy as np
import pytest

from zhijian_core.bundle import io as bundle_io
from zhijian_core.bundle.io import verify_bundle
from zhijian_core.data.config import DataConfig
from zhijian_core.errors import BundleError, ExportError, InvalidNameError
from zhijian_core.export import BundleSource, from_method, write_model_bundle
from zhijian_core.preprocess import build_preprocessor

_SOURCES: dict[str, BundleSource] = {}


@pytest.fixture
def ncm_source(task_data: dict) -> BundleSource:
    """NCM on the tiny BERT, fitted through the runner without a store (once)."""
    if "ncm" not in _SOURCES:
        dataset, ptm, _ = task_data["text"]
        data = DataConfig(dataset=dataset, train_size=40, val_size=20, test_size=30)
        _SOURCES["ncm"] = from_method("ncm", ptm, data, max_length=16)
    return _SOURCES["ncm"]


def test_a_text_bundle_carries_its_tokenizer_labels_and_lineage(ncm_source: BundleSource,
                                                                tmp_path: Path) -> None:
    import onnxruntime as ort

    out = tmp_path / "ncm"
    manifest = write_model_bundle(ncm_source, "tiny-ncm", out)
    assert verify_bundle(out) == manifest
    assert json.loads((out / "labels.json").read_text()) == ["negative", "positive"]
    lineage = manifest.lineage
    assert lineage.model_name == "tiny-ncm" and lineage.run_id is None
    assert lineage.method.name == "ncm" and lineage.method.train_config is None
    assert lineage.code_version and lineage.created_at.endswith("+00:00")
    assert manifest.io.raw_input == "text" and manifest.io.preprocess.max_length == 16
    assert manifest.evidence.evaluation.accuracy >= 0.7  # the separable toy task
    # What the service does: the manifest's preprocessing plus the ONNX session, from the folder.
    preprocessor = build_preprocessor(manifest.io.preprocess, out)
    session = ort.InferenceSession(str(out / "model.onnx"), providers=["CPUExecutionProvider"])
    probabilities, logits = session.run(None, preprocessor(["great flight, thanks", "awful delay"]))
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-6)
    assert logits.shape == (2, 2)


@pytest.mark.parametrize("site", ["model.onnx", "tokenizer.json", "labels.json", "manifest.json",
                                  "rename"])
def test_a_full_disk_at_any_write_leaves_no_bundle_and_no_temporary(
        ncm_source: BundleSource, tmp_path: Path, site: str, monkeypatch: pytest.MonkeyPatch) -> None:
    real_write = bundle_io.write_file

    def write_file(path: Path, data: bytes) -> None:
        if Path(path).name == site:
            raise OSError(errno.ENOSPC, "No space left on device")
        real_write(path, data)

    def rename(src, dst) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(bundle_io, "write_file", write_file)
    if site == "rename":
        monkeypatch.setattr(bundle_io.os, "rename", rename)
    parent = tmp_path / "bundles"
    with pytest.raises(OSError) as info:
        write_model_bundle(ncm_source, "tiny-ncm", parent / "ncm")
    assert info.value.errno == errno.ENOSPC
    assert list(parent.iterdir()) == []


def test_a_failed_parity_check_writes_nothing(ncm_source: BundleSource, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from zhijian_core.export import bundle_writer

    def failing_parity(*args, **kwargs):
        raise ExportError("ONNX Runtime differs from PyTorch by 0.5 (max abs)")

    monkeypatch.setattr(bundle_writer, "check_parity", failing_parity)
    with pytest.raises(ExportError, match="0.5"):
        write_model_bundle(ncm_source, "tiny-ncm", tmp_path / "b" / "ncm")
    assert list((tmp_path / "b").iterdir()) == []


def test_bad_names_and_existing_folders_are_refused(ncm_source: BundleSource, tmp_path: Path) -> None:
    with pytest.raises(InvalidNameError, match="Bad/Name"):
        write_model_bundle(ncm_source, "Bad/Name", tmp_path / "x")
    (tmp_path / "taken").mkdir()
    with pytest.raises(BundleError, match="already exists"):
        write_model_bundle(ncm_source, "tiny", tmp_path / "taken")

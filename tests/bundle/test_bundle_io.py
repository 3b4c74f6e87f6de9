"""Reading and verifying bundles: digests, schema versions, unknown fields, atomic writes."""

from __future__ import annotations

import errno
import json
from pathlib import Path

import numpy as np
import pytest

from zhijian_core.bundle import io as bundle_io
from zhijian_core.bundle.io import read_manifest, verify_bundle, write_bundle
from zhijian_core.errors import BundleError, BundleIntegrityError, SchemaVersionError


def _edit_manifest(folder: Path, change) -> None:
    path = folder / "manifest.json"
    raw = json.loads(path.read_text())
    change(raw)
    path.write_text(json.dumps(raw))


def test_an_embedding_bundle_verifies_and_says_why_it_was_not_evaluated(bundle: Path) -> None:
    import onnxruntime as ort

    manifest = verify_bundle(bundle)
    assert manifest.task.kind == "embedding" and manifest.task.dimension == 64
    assert manifest.evidence.evaluation is None
    assert manifest.evidence.evaluation_skipped == "exported without a dataset"
    assert manifest.evidence.parity.inputs == "built-in samples"
    assert manifest.evidence.parity.max_abs_diff < 1e-4
    assert manifest.lineage.method.name == "ptm" and manifest.lineage.method.family == "none"
    assert [t.name for t in manifest.io.outputs] == ["embedding"]
    assert manifest.io.outputs[0].shape == ["batch", 64]
    assert set(manifest.files) == {"model.onnx"}
    session = ort.InferenceSession(str(bundle / "model.onnx"), providers=["CPUExecutionProvider"])
    pixels = np.random.default_rng(0).standard_normal((3, 3, 160, 160)).astype(np.float32)
    (vectors,) = session.run(["embedding"], {"pixel_values": pixels})
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_one_changed_byte_of_the_model_is_refused_naming_the_file(bundle: Path) -> None:
    model = bundle / "model.onnx"
    data = bytearray(model.read_bytes())
    data[len(data) // 2] ^= 0x01
    model.write_bytes(bytes(data))
    with pytest.raises(BundleIntegrityError, match="'model.onnx'"):
        verify_bundle(bundle)


def test_missing_and_extra_files_are_refused(bundle: Path) -> None:
    (bundle / "extra.txt").write_text("x")
    with pytest.raises(BundleIntegrityError, match="extra.txt"):
        verify_bundle(bundle)
    (bundle / "extra.txt").unlink()
    (bundle / "model.onnx").unlink()
    with pytest.raises(BundleIntegrityError, match="'model.onnx'.*missing"):
        verify_bundle(bundle)


def test_a_newer_major_schema_is_refused(bundle: Path) -> None:
    _edit_manifest(bundle, lambda raw: raw.update(schema_version="2.0"))
    with pytest.raises(SchemaVersionError, match="2.0"):
        read_manifest(bundle)


def test_unknown_fields_of_a_newer_minor_schema_warn_and_load(bundle: Path) -> None:
    def change(raw: dict) -> None:
        raw["schema_version"] = "1.7"
        raw["signature"] = "abc"
        raw["evidence"]["parity"]["method"] = "cosine"
        raw["io"]["inputs"][0]["layout"] = "NCHW"

    _edit_manifest(bundle, change)
    with pytest.warns(UserWarning) as caught:
        manifest = verify_bundle(bundle)
    message = str(caught[0].message)
    for path in ("signature", "evidence.parity.method", "io.inputs[0].layout"):
        assert path in message
    assert manifest.task.kind == "embedding"


def test_an_invalid_manifest_is_a_bundle_error(bundle: Path) -> None:
    _edit_manifest(bundle, lambda raw: raw.pop("task"))
    with pytest.raises(BundleError, match="not a valid manifest"):
        read_manifest(bundle)
    (bundle / "manifest.json").write_text("{")
    with pytest.raises(BundleError, match="not valid JSON"):
        read_manifest(bundle)


def test_a_folder_without_manifest_is_not_a_bundle(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match="no manifest.json"):
        read_manifest(tmp_path)


def test_write_bundle_refuses_an_existing_target(bundle: Path) -> None:
    with pytest.raises(BundleError, match="already exists"):
        write_bundle(bundle, lambda folder: read_manifest(bundle))


@pytest.mark.parametrize("failing", ["fill", "manifest", "rename"])
def test_a_full_disk_leaves_nothing_behind(bundle: Path, tmp_path: Path, failing: str,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    manifest = read_manifest(bundle)
    full = OSError(errno.ENOSPC, "No space left on device")

    def fill(folder: Path):
        bundle_io.write_file(folder / "model.onnx", (bundle / "model.onnx").read_bytes())
        if failing == "fill":
            raise full
        return manifest

    def no_space(*args, **kwargs):
        raise full

    if failing == "manifest":
        monkeypatch.setattr(bundle_io, "write_file", lambda path, data: (
            no_space() if path.name == "manifest.json" else Path(path).write_bytes(data)))
    if failing == "rename":
        monkeypatch.setattr(bundle_io.os, "rename", no_space)
    target = tmp_path / "out" / "new-bundle"
    with pytest.raises(OSError) as info:
        write_bundle(target, fill)
    assert info.value.errno == errno.ENOSPC
    assert list(target.parent.iterdir()) == []

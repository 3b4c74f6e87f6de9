"""A bundle is loaded only after its digests match: every way of tampering with a bundle stops the
host before an ONNX Runtime session or a preprocessor is built from it, the service answers 503
(not ready, never 500), and a bundle tampered in the registry's store is refused on resolution,
even when its manifest's digests were rewritten to match."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any, Callable

import pytest
from fastapi.testclient import TestClient

from services.errors import NotReadyError
from services.host import HostConfig, ModelHost, RegistrySource
from services.host.loaded import LoadedVersion
from services.gateway import Fleet, GatewayConfig, create_app
from tests.services.gateways import TOKEN, Recorder, build_app
from zhijian_core.bundle.io import verify_bundle
from zhijian_core.errors import BundleIntegrityError


def _flip(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def _edit_manifest(bundle: Path, change: Callable[[dict], None]) -> None:
    manifest = json.loads((bundle / "manifest.json").read_text())
    change(manifest)
    (bundle / "manifest.json").write_text(json.dumps(manifest))


def _tokenizer_outside(bundle: Path) -> None:
    shutil.copy(bundle / "tokenizer.json", bundle.parent / "tokenizer.json")
    _edit_manifest(bundle, lambda m: m["io"]["preprocess"].update(
        tokenizer_file="../tokenizer.json"))


TAMPERINGS: dict[str, tuple[Callable[[Path], None], str]] = {
    "model bytes changed": (lambda b: _flip(b / "model.onnx"), "'model.onnx' does not match"),
    "tokenizer bytes changed": (lambda b: _flip(b / "tokenizer.json"), "'tokenizer.json' does not"),
    "file added": (lambda b: (b / "extra.onnx").write_bytes(b"x"), "files not in the manifest"),
    "file removed": (lambda b: (b / "tokenizer.json").unlink(), "is missing"),
    "manifest lists a path outside": (lambda b: _edit_manifest(b, lambda m: m["files"].update(
        {"../model.onnx": "0" * 64})), "is missing"),
    "tokenizer read from outside the bundle": (_tokenizer_outside, "not a file the manifest lists"),
    "manifest unreadable": (lambda b: (b / "manifest.json").write_text("{"), "not valid JSON"),
}


@pytest.fixture
def tampered_copy(reliability_bundles: dict, tmp_path: Path) -> Callable[[str], Path]:
    def make(kind: str) -> Path:
        bundle = tmp_path / "copy" / "1"
        shutil.copytree(reliability_bundles["texts"][1], bundle)
        TAMPERINGS[kind][0](bundle)
        return bundle
    return make


@pytest.mark.parametrize("kind", sorted(TAMPERINGS))
def test_no_session_or_preprocessor_is_built_from_a_tampered_bundle(
        kind: str, tampered_copy: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[str] = []
    monkeypatch.setattr("services.host.loaded.create_session",
                        lambda *args: built.append("session") or pytest.fail("session built"))
    monkeypatch.setattr("services.host.loaded.build_preprocessor",
                        lambda *args: built.append("preprocessor") or pytest.fail("preprocessor built"))
    with pytest.raises(NotReadyError, match=TAMPERINGS[kind][1]):
        LoadedVersion.load("texts", 1, tampered_copy(kind), HostConfig())
    assert built == []


@pytest.mark.parametrize("kind", ["model bytes changed", "tokenizer read from outside the bundle"])
def test_the_service_answers_503_for_a_tampered_production_bundle(
        kind: str, tampered_copy: Callable[[str], Path]) -> None:
    app = build_app({"texts": {1: tampered_copy(kind)}}, {"texts": {"production": 1}})
    with TestClient(app) as client:
        ready = client.get("/v2/models/texts/ready")
        assert ready.status_code == 503 and ready.headers["Retry-After"]
        assert TAMPERINGS[kind][1] in ready.json()["error"]
        answer = client.post("/v1/models/texts:predict", json={"instances": ["good"]})
        assert answer.status_code == 503 and answer.json()["error"]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("rewrite_manifest", [False, True])
def test_a_bundle_tampered_in_the_registry_store_is_refused(registry: Any, reliability_bundles: dict,
                                                            rewrite_manifest: bool) -> None:
    """Even with the manifest's digest rewritten to match the changed model, the manifest's own
    SHA-256 recorded at registration gives it away."""
    name = f"tampered-{'manifest' if rewrite_manifest else 'model'}"
    assert registry.register(reliability_bundles["texts"][1], name) == 1
    stored = registry.resolve(name, 1).path
    assert stored.resolve() != reliability_bundles["texts"][1].resolve()  # the store's own copy
    _flip(stored / "model.onnx")
    if rewrite_manifest:
        _edit_manifest(stored, lambda m: m["files"].update(
            {"model.onnx": _sha256(stored / "model.onnx")}))
    with pytest.raises(BundleIntegrityError, match="manifest.json" if rewrite_manifest else "model.onnx"):
        registry.resolve(name, 1)
    host = ModelHost(name, RegistrySource(registry), HostConfig())
    app = Recorder(create_app(GatewayConfig(admin_token=TOKEN, poll_interval_s=0),
                              Fleet({name: host}, registry.canary_percent)))
    with TestClient(app) as client:
        answer = client.get(f"/v2/models/{name}/versions/1/ready")
        assert answer.status_code == 503, answer.text
        assert "SHA-256" in answer.json()["error"]
    verify_bundle(reliability_bundles["texts"][1])  # the original was never touched

"""The PTM spec parser: every accepted form, and errors that name the accepted forms."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from zhijian_core.errors import PTMError
from zhijian_core.ptm.spec import PACKAGED_PTMS, PTMSpec, as_ptm_spec, parse_ptm_spec


def test_timm_name() -> None:
    spec = parse_ptm_spec("timm:vit_tiny_patch16_224.augreg_in21k")
    assert spec == PTMSpec(kind="timm", name="vit_tiny_patch16_224.augreg_in21k", weights=None,
                           raw="timm:vit_tiny_patch16_224.augreg_in21k")
    assert spec.normalized == "timm:vit_tiny_patch16_224.augreg_in21k" == str(spec)


@pytest.mark.parametrize("suffix", [".safetensors", ".pth", ".pt", ".bin"])
def test_timm_with_weights_file(tmp_path: Path, suffix: str) -> None:
    spec = parse_ptm_spec(f" timm:test_vit@{tmp_path}/w{suffix} ")
    assert (spec.kind, spec.name, spec.weights) == ("timm", "test_vit", tmp_path / f"w{suffix}")
    assert spec.normalized == f"timm:test_vit@{tmp_path}/w{suffix}"


def test_timm_relative_weights_become_absolute(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert parse_ptm_spec("timm:test_vit@w.pth").weights == tmp_path.resolve() / "w.pth"


def test_hf_directory_and_hub_id(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert parse_ptm_spec(f"hf:{tmp_path}").name == str(tmp_path.resolve())
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mymodel").mkdir()
    assert parse_ptm_spec("hf:mymodel").name == str(tmp_path.resolve() / "mymodel")
    assert parse_ptm_spec("hf:./other").name == str(tmp_path.resolve() / "other")
    hub = parse_ptm_spec("hf:sentence-transformers/all-MiniLM-L6-v2")
    assert (hub.kind, hub.name) == ("hf", "sentence-transformers/all-MiniLM-L6-v2")
    assert hub.normalized == "hf:sentence-transformers/all-MiniLM-L6-v2"


def test_local_directory(tmp_path: Path) -> None:
    spec = parse_ptm_spec(f"LOCAL:{tmp_path}/model")
    assert (spec.kind, spec.name) == ("local", str(tmp_path.resolve() / "model"))
    assert spec.normalized == f"local:{tmp_path.resolve()}/model"


@pytest.mark.parametrize("name", PACKAGED_PTMS)
def test_packaged_short_names(name: str) -> None:
    spec = parse_ptm_spec(name)
    assert (spec.kind, spec.name, spec.weights, spec.normalized) == ("packaged", name, None, name)


def test_as_ptm_spec_passes_parsed_specs_through() -> None:
    spec = parse_ptm_spec("minilm-l6")
    assert as_ptm_spec(spec) is spec
    assert as_ptm_spec("minilm-l6") == spec


@pytest.mark.parametrize(("text", "why"), [
    ("", "empty"),
    ("   ", "empty"),
    ("bert-base", "no '<kind>:' prefix"),
    ("minilm_l6", "did you mean 'minilm-l6'"),
    ("onnx:model.onnx", "unknown kind 'onnx'"),
    ("timm:", "nothing follows 'timm:'"),
    ("timm:vit tiny", "not a timm model name"),
    ("timm:test_vit@", "nothing follows '@'"),
    ("timm:test_vit@/tmp/weights.onnx", "does not end in one of"),
    ("hf:not a hub id!", "neither an existing directory nor a hub id"),
    ("local:", "nothing follows 'local:'"),
])
def test_errors_name_the_text_the_reason_and_the_accepted_forms(text: str, why: str) -> None:
    with pytest.raises(PTMError) as info:
        parse_ptm_spec(text)
    message = str(info.value)
    assert repr(text) in message
    assert why in message
    assert "Accepted forms" in message and "timm:<model_name>" in message
    assert "hf:" in message and "local:" in message
    for name in PACKAGED_PTMS:
        assert name in message


def test_non_string_is_refused() -> None:
    with pytest.raises(PTMError, match="a spec is a string, not int"):
        parse_ptm_spec(3)  # type: ignore[arg-type]


def test_spec_module_imports_no_torch() -> None:
    code = "import sys, zhijian_core.ptm.spec; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)

"""Registering verified bundles, reading them back, and clear errors for what does not exist."""

from __future__ import annotations

import errno
import shutil
from pathlib import Path

import pytest

from tests.registry.conftest import make_bundle
from zhijian_core.errors import (AliasNotFoundError, BundleIntegrityError, InvalidNameError,
                                 ModelNotFoundError, RegistryError, VersionNotFoundError)
from zhijian_core.registry import Registry
from zhijian_core.registry.client import BUNDLES_EXPERIMENT


def full(*args: object, **kwargs: object) -> None:
    """Stand-in for a write that finds the disk full."""
    raise OSError(errno.ENOSPC, "No space left on device")


def _children(folder: Path) -> set[Path]:
    return set(folder.iterdir()) if folder.exists() else set()


def _flip_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def test_register_tags_the_version_with_lineage_and_evidence(registry: Registry, name: str,
                                                             tmp_path: Path) -> None:
    first = registry.register(make_bundle(tmp_path / "a", macro_f1=0.8), name)
    second = registry.register(make_bundle(tmp_path / "b", macro_f1=0.85), name)
    assert (first, second) == (1, 2)
    info = registry.show(name)
    assert [v.version for v in info.versions] == [1, 2]
    tags = info.versions[1].tags
    assert tags["zhijian.ptm.spec"] == "timm:tiny"
    assert tags["zhijian.ptm.digest"] == "ab" * 32
    assert tags["zhijian.method"] == "linear_probe"
    assert tags["zhijian.dataset.fingerprint"] == "fp-a"
    assert tags["zhijian.code_version"] == "0.0.test"
    assert tags["zhijian.parity.passed"] == "true"
    assert float(tags["zhijian.parity.max_abs_diff"]) == 1e-6
    assert float(tags["zhijian.parity.tolerance"]) == 1e-4
    assert float(tags["zhijian.eval.macro_f1"]) == 0.85
    assert tags["zhijian.eval.dataset_fingerprint"] == "fp-a"
    assert float(tags["zhijian.latency_ms_b1"]) == 1.5
    assert all(key.startswith("zhijian.") and isinstance(v, str) for key, v in tags.items())
    assert name in [m.name for m in registry.list_models()]


def test_resolve_by_version_and_alias_returns_a_verified_bundle(registry: Registry, name: str,
                                                                tmp_path: Path) -> None:
    registry.register(make_bundle(tmp_path / "a"), name)
    version, path = registry.resolve(name, "1")
    assert version == 1 and (path / "model.onnx").is_file() and (path / "manifest.json").is_file()
    registry.set_alias(name, "poc", 1)
    assert registry.resolve(name, "poc") == (1, path)
    assert registry.show(name).versions[0].aliases == ["poc"]


def test_a_tampered_bundle_is_refused_at_register_naming_the_file(registry: Registry, name: str,
                                                                  tmp_path: Path) -> None:
    bundle = make_bundle(tmp_path / "a")
    _flip_byte(bundle / "model.onnx")
    with pytest.raises(BundleIntegrityError, match="'model.onnx'"):
        registry.register(bundle, name)
    assert not registry.exists(name)


def test_a_bundle_tampered_in_the_store_is_refused_at_resolve(registry: Registry, name: str,
                                                              tmp_path: Path) -> None:
    registry.register(make_bundle(tmp_path / "a"), name)
    _, path = registry.resolve(name, 1)
    _flip_byte(path / "model.onnx")
    with pytest.raises(BundleIntegrityError, match="'model.onnx'"):
        registry.resolve(name, 1)


def test_unknown_model_alias_version_and_bad_names_are_clear(registry: Registry, name: str,
                                                             tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="no registered model 'nobody'"):
        registry.show("nobody")
    registry.register(make_bundle(tmp_path / "a"), name)
    with pytest.raises(AliasNotFoundError, match=f"'{name}' has no alias 'production'"):
        registry.resolve(name, "production")
    with pytest.raises(VersionNotFoundError, match="no version 9"):
        registry.resolve(name, 9)
    with pytest.raises(InvalidNameError, match="path traversal"):
        registry.resolve("../etc", "production")
    with pytest.raises(InvalidNameError, match="uppercase"):
        registry.register(tmp_path / "a", "Bad")


WRITE_SITES = ["create_run", "log_artifacts", "copy-second-file", "create_registered_model",
               "create_model_version", "set_terminated"]


@pytest.mark.parametrize("site", WRITE_SITES)
def test_disk_full_at_any_write_site_leaves_nothing_registered(registry: Registry, name: str,
                                                               tmp_path: Path, site: str,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    bundle = make_bundle(tmp_path / "a")

    experiment = registry.experiment_id(BUNDLES_EXPERIMENT)
    artifacts = Path(registry._artifact_location.removeprefix("file://"))
    runs_before = {r.info.run_id for r in registry.client.search_runs([experiment])}
    folders_before = _children(artifacts)
    with monkeypatch.context() as patch:
        if site == "copy-second-file":  # the disk fills up half-way through logging the bundle
            copies = []
            real_copy = shutil.copy2

            def copy_then_fill(src: str, dst: str) -> None:
                copies.append(dst)
                if len(copies) > 1:
                    full()
                real_copy(src, dst)

            patch.setattr(shutil, "copy2", copy_then_fill)
        else:
            patch.setattr(registry.client, site, full)
        with pytest.raises(RegistryError, match="No space left on device.*nothing was registered"):
            registry.register(bundle, name)
    assert not registry.exists(name)
    assert [r for r in registry.client.search_runs([experiment]) if r.info.run_id not in runs_before] == []
    assert _children(artifacts) == folders_before  # the run's artifact folder is gone
    assert registry.register(bundle, name) == 1  # and the next attempt works from a clean slate


def test_disk_full_on_a_later_version_keeps_the_earlier_ones(registry: Registry, name: str,
                                                              tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    registry.register(make_bundle(tmp_path / "a"), name)
    monkeypatch.setattr(registry.client, "set_terminated", full)
    with pytest.raises(RegistryError):
        registry.register(make_bundle(tmp_path / "b"), name)
    monkeypatch.undo()
    assert [v.version for v in registry.show(name).versions] == [1]


@pytest.mark.usefixtures("seeded_home")
def test_the_first_experiment_creation_failing_leaves_nothing(name: str, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    fresh = Registry()
    monkeypatch.setattr(fresh.client, "create_experiment", full)
    with pytest.raises(RegistryError, match="No space left"):
        fresh.register(make_bundle(tmp_path / "a"), name)
    assert fresh.list_models() == []

"""The explicit registry of PTM sources."""

from __future__ import annotations

import pytest

from zhijian_core.errors import PTMError
from zhijian_core.ptm.sources import registry
from zhijian_core.ptm.spec import PACKAGED_PTMS, PTMSpec, parse_ptm_spec


@pytest.fixture
def isolated_registry(monkeypatch: pytest.MonkeyPatch) -> dict:
    """A copy of the registry (built-ins loaded), restored after the test."""
    registry.available_sources()
    copy = dict(registry._REGISTRY)
    monkeypatch.setattr(registry, "_REGISTRY", copy)
    return copy


def test_every_kind_and_packaged_name_has_a_source() -> None:
    assert set(registry.available_sources()) == {"timm", "hf", "local", *PACKAGED_PTMS}


def test_duplicate_key_is_refused(isolated_registry: dict) -> None:
    def other_loader(spec: PTMSpec, pretrained: bool) -> None:
        raise AssertionError("never called")

    with pytest.raises(PTMError, match="'timm' is already registered by .*load_timm"):
        registry.register_source("timm", other_loader)  # type: ignore[arg-type]


def test_registering_the_same_loader_again_is_harmless(isolated_registry: dict) -> None:
    loader = isolated_registry["timm"]
    assert registry.register_source("timm", loader) is loader


def test_new_source_is_found_by_key(isolated_registry: dict) -> None:
    def load_custom(spec: PTMSpec, pretrained: bool):  # noqa: ANN202 - a stub
        return (spec.name, pretrained)

    registry.register_source("custom-ptm", load_custom)
    spec = PTMSpec(kind="packaged", name="custom-ptm", weights=None, raw="custom-ptm")
    assert registry.get_source(spec) is load_custom


def test_unknown_key_lists_registered_sources(isolated_registry: dict) -> None:
    spec = PTMSpec(kind="packaged", name="nope", weights=None, raw="nope")
    with pytest.raises(PTMError, match="no PTM source is registered for 'nope'.*minilm-l6"):
        registry.get_source(spec)


def test_source_key() -> None:
    assert registry.source_key(parse_ptm_spec("timm:test_vit")) == "timm"
    assert registry.source_key(parse_ptm_spec("minilm-l3")) == "minilm-l3"

"""Promotions refused for what the gates cannot override are recorded too: a bundle whose digests
no longer verify (even with ``force``), and a check the service ran (``serving_warmup``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.registry.conftest import make_bundle
from zhijian_core.errors import GateError
from zhijian_core.registry import Registry, history, promote
from zhijian_core.registry.gates import GateResult


def test_a_tampered_bundle_is_refused_and_audited_even_when_forced(registry: Registry, name: str,
                                                                   tmp_path: Path) -> None:
    registry.register(make_bundle(tmp_path / "a"), name)
    registry.register(make_bundle(tmp_path / "b"), name)
    promote(registry, name, 1, "production", actor="test")
    _, path = registry.resolve(name, 2)
    data = bytearray((path / "model.onnx").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (path / "model.onnx").write_bytes(bytes(data))
    with pytest.raises(GateError, match="model.onnx") as refused:
        promote(registry, name, 2, "production", force=True, reason="try anyway", actor="test")
    assert refused.value.decision.state == "refused"
    assert registry.aliases(name)["production"] == 1
    last = history(registry, name)[-1]
    assert (last.state, last.target_version, last.forced) == ("refused", 2, False)
    assert [(g.name, g.status) for g in last.gates] == [("digests", "failed")]


def test_a_failed_service_check_refuses_and_is_recorded(registry: Registry, name: str,
                                                        tmp_path: Path) -> None:
    registry.register(make_bundle(tmp_path / "a"), name)
    registry.register(make_bundle(tmp_path / "b"), name)
    promote(registry, name, 1, "production", actor="test")
    warmup = GateResult(name="serving_warmup", status="failed", detail="warm-up failed: boom")
    with pytest.raises(GateError, match="serving_warmup: warm-up failed: boom"):
        promote(registry, name, 2, "production", actor="test", checks=[warmup])
    assert registry.aliases(name)["production"] == 1
    last = history(registry, name)[-1]
    assert last.state == "refused" and "serving_warmup" in [g.name for g in last.gates]

"""The canary controller without Ray: a real registry, the services' metrics recorded into a
registry of their own (read by the node source), and a clock the test moves. It rolls a breaching
canary back through the promotion code with the evidence on record, holds on too few samples and
on any error, promotes only when asked to, and exports each decision and check value."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from services.canary import ACTOR, CanaryConfig, CanaryController, MetricsSourceError, NodeSource
from services.metrics import Metrics, metrics
from tests.services.bundles import make_image_bundle
from tests.services.test_canary_sources import Clock, record

CONFIG = CanaryConfig(window_s=30, interval_s=5, min_samples=20)


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory):
    """One registry for the module (a new store costs seconds of migrations)."""
    from zhijian_core.registry import Registry

    home = tmp_path_factory.mktemp("canary-home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ZHIJIAN_HOME", str(home))
        yield Registry(lock_timeout_s=5)


@pytest.fixture
def model(registry, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A model of this test: v1 in production, v2 as canary at 50%."""
    from zhijian_core.registry import promote

    name = f"ctl-{request.node.name.split('[')[0].removeprefix('test_')[:40].replace('_', '-')}"
    for version in (1, 2):
        registry.register(make_image_bundle(tmp_path / str(version), name=name, seed=version), name)
    promote(registry, name, 1, "production", actor="test")
    promote(registry, name, 2, "canary", percent=50, actor="test")
    return name


class Harness:
    """The controller over a private service registry, with a recording refresh."""

    def __init__(self, registry, models: list[str], config: CanaryConfig = CONFIG) -> None:
        self.service, self.clock, self.refreshed = Metrics(), Clock(), []
        source = NodeSource(families=self.service.registry.collect, clock=self.clock)

        async def refresh(model: str) -> None:
            self.refreshed.append(model)

        self.controller = CanaryController(models, config, registry, source, refresh=refresh,
                                           clock=self.clock)

    def evaluate(self, seconds: float = 0.0) -> dict:
        self.clock.now += seconds
        return asyncio.run(self.controller.evaluate_all())


def decisions(model: str, decision: str, check: str = "none") -> float:
    return metrics().registry.get_sample_value(
        "zhijian_canary_decisions_total", {"model": model, "decision": decision, "check": check}) or 0


def observed(model: str, arm: str, check: str) -> float | None:
    return metrics().registry.get_sample_value("zhijian_canary_observed",
                                               {"model": model, "arm": arm, "check": check})


def test_a_slow_canary_is_rolled_back_with_the_evidence_on_record(registry, model: str) -> None:
    from zhijian_core.registry import history

    harness = Harness(registry, [model])
    assert harness.evaluate()[model].decision == "hold"  # the first reading: nothing to compare
    record(harness.service, model, "1", 100, 0, 0.004, 0.01)
    record(harness.service, model, "2", 100, 0, 0.080, 0.01)
    found = harness.evaluate(5)[model]
    assert (found.decision, found.check, found.canary_version, found.production_version) == (
        "rollback", "p95_latency", 2, 1)
    assert found.covered_s == 5 and found.record_id
    assert registry.aliases(model) == {"production": 1} and registry.canary_percent(model) is None
    assert harness.refreshed == [model]
    trail = history(registry, model)[-1]
    assert (trail.kind, trail.state, trail.actor, trail.record_id) == (
        "canary_abort", "committed", ACTOR, found.record_id)
    assert "p95_latency breached" in trail.reason
    gates = {g.name: g for g in trail.gates}
    assert gates["p95_latency"].status == "failed"
    assert gates["p95_latency"].values["production"] == pytest.approx(0.0049)  # 3 + 2 * 0.95 ms
    assert gates["p95_latency"].values["canary"] == pytest.approx(0.09875)  # 75 + 25 * 0.95 ms
    assert gates["error_ratio"].status == "passed" and gates["agreement"].status == "skipped"
    assert decisions(model, "rollback", "p95_latency") == 1
    assert decisions(model, "hold") == 1
    assert observed(model, "canary", "p95_latency") == pytest.approx(0.09875)
    assert observed(model, "production", "error_ratio") == 0
    assert harness.evaluate(5) == {}  # no canary any more: nothing to judge


def test_failures_roll_back_on_the_error_ratio(registry, model: str) -> None:
    harness = Harness(registry, [model])
    harness.evaluate()
    record(harness.service, model, "1", 100, 0, 0.004, 0.01)
    record(harness.service, model, "2", 80, 20, 0.004, 0.01)  # 20 % of its runs fail
    found = harness.evaluate(5)[model]
    assert (found.decision, found.check) == ("rollback", "error_ratio")
    assert "canary" not in registry.aliases(model)


def test_too_few_samples_hold_and_a_healthy_canary_stays_without_the_opt_in(registry,
                                                                            model: str) -> None:
    harness = Harness(registry, [model])
    harness.evaluate()
    record(harness.service, model, "1", 100, 0, 0.004, 0.01)
    record(harness.service, model, "2", 18, 1, 1.0, 0.5)  # terrible, but 19 runs (20 needed)
    found = harness.evaluate(5)[model]
    assert found.decision == "hold" and found.check == "none"
    assert {c.name: c.status for c in found.checks}["p95_latency"] == "insufficient"
    for seconds in (35, 5, 5):  # the window slides past the bad runs; the canary is healthy
        record(harness.service, model, "1", 100, 0, 0.004, 0.01)
        record(harness.service, model, "2", 100, 0, 0.004, 0.01)
        found = harness.evaluate(seconds)[model]
        assert found.decision == "hold" and all(c.status in ("passed", "not_applicable")
                                                for c in found.checks)
    assert registry.aliases(model) == {"production": 1, "canary": 2}
    assert harness.refreshed == []


def test_a_canary_healthy_for_long_enough_is_promoted_when_asked(registry, model: str) -> None:
    from zhijian_core.registry import history

    config = CONFIG.model_copy(update={"auto_promote": True, "promote_after_s": 10})
    harness = Harness(registry, [model], config)
    harness.evaluate()
    decided = []
    for _ in range(3):  # healthy at t=5 (the streak starts), t=10, t=15 (10 s later: promote)
        record(harness.service, model, "1", 150, 0, 0.004, 0.01)
        record(harness.service, model, "2", 150, 0, 0.004, 0.01)
        decided.append(harness.evaluate(5)[model].decision)
    assert decided == ["hold", "hold", "promote"]
    assert registry.aliases(model) == {"production": 2, "canary": 2}
    trail = history(registry, model)[-1]
    assert (trail.kind, trail.alias, trail.target_version, trail.actor) == (
        "promote", "production", 2, ACTOR)
    canary_gate = {g.name: g for g in trail.gates}["canary"]
    assert canary_gate.status == "passed" and canary_gate.values["requests"] >= 100
    assert harness.refreshed == [model] and decisions(model, "promote") == 1
    assert harness.evaluate(5) == {}  # canary and production are one version now


def test_any_error_holds_and_is_logged_once(registry, model: str,
                                           caplog: pytest.LogCaptureFixture) -> None:
    harness = Harness(registry, [model])

    def broken(model: str, window_s: float):
        raise MetricsSourceError("the Ray cluster has 3 nodes")

    harness.controller.source.window = broken  # type: ignore[method-assign]
    with caplog.at_level(logging.WARNING, logger="zhijian.canary"):
        for _ in range(3):
            found = harness.evaluate(5)[model]
            assert found.decision == "hold" and "3 nodes" in found.error
    assert sum("3 nodes" in r.getMessage() for r in caplog.records) == 1
    assert registry.aliases(model) == {"production": 1, "canary": 2}
    assert decisions(model, "hold") == 3


def test_a_rollback_about_a_canary_replaced_meanwhile_changes_nothing(
        registry, model: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from zhijian_core.registry import promote, promotion

    harness = Harness(registry, [model])
    harness.evaluate()
    record(harness.service, model, "1", 100, 0, 0.004, 0.01)
    record(harness.service, model, "2", 100, 0, 0.080, 0.01)
    real = promotion.abort_canary

    def replaced_first(*args, **kwargs):  # someone promotes v1 as canary just before the abort
        promote(registry, model, 1, "canary", percent=10, actor="someone")
        return real(*args, **kwargs)

    monkeypatch.setattr(promotion, "abort_canary", replaced_first)
    found = harness.evaluate(5)[model]
    assert found.decision == "hold" and "the canary is v1, not v2" in found.error
    assert registry.aliases(model)["canary"] == 1 and harness.refreshed == []

"""Cost accounting with hand-computed values: usage and allocation device-seconds per version,
dollars from the price table, and the price table read from the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.metrics import (CostMeter, PriceTable, PriceTableError, Resources, load_prices,
                              metrics)
from services.metrics.multiprocess import exposition
from tests.services.test_metrics import parse, value


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _seconds(model: str, version: str, device: str, basis: str) -> float:
    return value(parse(exposition().decode()), "zhijian_device_seconds_total", model=model,
                 version=version, device=device, basis=basis)


def test_usage_and_allocation_are_shared_among_versions() -> None:
    wall, cpu = Clock(), Clock()
    prices = PriceTable(cpu={"default": 36.0}, gpu={"default": 360.0})
    meter = CostMeter("cost-a", "host-cost-a", Resources(cpus=2.0, gpus=0.5), prices, cpu, wall)
    meter.hosting(1)
    meter.hosting(2)
    wall.now = 0.5
    meter.record(1, compute_s=0.3, gpu_run_s=0.2)  # too soon after the last tick: no tick
    meter.record(2, compute_s=0.1, gpu_run_s=0.0)
    wall.now, cpu.now = 10.0, 3.0
    meter.tick()  # 3 CPU-s shared 3:1; GPU: 0.2 s of run x 0.5 GPU; allocation by usage
    expected = {("1", "cpu", "usage"): 2.25, ("2", "cpu", "usage"): 0.75,
                ("1", "gpu", "usage"): 0.1, ("2", "gpu", "usage"): 0.0,
                ("1", "cpu", "allocation"): 15.0, ("2", "cpu", "allocation"): 5.0,
                ("1", "gpu", "allocation"): 5.0, ("2", "gpu", "allocation"): 0.0}
    for (version, device, basis), seconds in expected.items():
        assert _seconds("cost-a", version, device, basis) == pytest.approx(seconds)
    wall.now, cpu.now = 20.0, 3.5
    meter.tick()  # idle: no usage; allocation by the usage so far (3:1 on the CPU, all v1 GPU)
    assert _seconds("cost-a", "1", "cpu", "usage") == pytest.approx(2.25)
    assert _seconds("cost-a", "1", "cpu", "allocation") == pytest.approx(30.0)
    assert _seconds("cost-a", "2", "cpu", "allocation") == pytest.approx(10.0)
    assert _seconds("cost-a", "1", "gpu", "allocation") == pytest.approx(10.0)
    meter.released(1)
    wall.now = 30.0
    meter.close()  # idle, v1 released: v2 holds everything (its GPU share by equal split)
    assert _seconds("cost-a", "2", "cpu", "allocation") == pytest.approx(30.0)
    assert _seconds("cost-a", "2", "gpu", "allocation") == pytest.approx(5.0)
    samples = parse(exposition().decode())
    allocated = value(samples, "zhijian_device_seconds_total", model="cost-a", device="cpu",
                      basis="allocation")
    assert allocated == pytest.approx(30.0 * 2.0)  # uptime x CPUs held
    assert value(samples, "zhijian_device_seconds_total", model="cost-a", device="gpu",
                 basis="allocation") == pytest.approx(30.0 * 0.5)
    assert value(samples, "zhijian_cost_dollars_total", model="cost-a", version="1", device="cpu",
                 basis="usage") == pytest.approx(2.25 * 36.0 / 3600)
    assert value(samples, "zhijian_cost_dollars_total", model="cost-a", version="1", device="gpu",
                 basis="allocation") == pytest.approx(10.0 * 360.0 / 3600)
    assert value(samples, "zhijian_replica_cpu_seconds_total", deployment="host-cost-a") == 3.5
    assert value(samples, "zhijian_replica_uptime_seconds", deployment="host-cost-a") == 30.0
    assert value(samples, "zhijian_replicas", deployment="host-cost-a") == 0


def test_a_version_has_cost_series_from_its_load() -> None:
    meter = CostMeter("cost-b", "host-cost-b", Resources(cpus=1.0), PriceTable(), Clock(), Clock())
    meter.hosting(7)
    samples = parse(exposition().decode())
    for basis in ("usage", "allocation"):
        labels = {"model": "cost-b", "version": "7", "device": "cpu", "basis": basis}
        key = ("zhijian_cost_dollars_total", frozenset(labels.items()))
        assert samples[key] == 0.0
    assert metrics().cost is metrics().cost  # one set per process


def test_the_price_table_from_the_environment(tmp_path: Path) -> None:
    assert load_prices({}) == PriceTable()
    assert PriceTable().per_hour("cpu") == 0.05 and PriceTable().per_hour("gpu") == 2.5
    table = load_prices({"ZHIJIAN_PRICES": '{"cpu": {"c7i": 0.04}, "gpu": {"h100": 4.0}}'})
    assert table.per_hour("cpu", "c7i") == 0.04 and table.per_hour("gpu", "h100") == 4.0
    file = tmp_path / "prices.yaml"
    file.write_text("cpu:\n  default: 0.1\ngpu:\n  l4: 0.8\n")
    assert load_prices({"ZHIJIAN_PRICES_FILE": str(file)}).per_hour("gpu", "l4") == 0.8
    with pytest.raises(PriceTableError, match="not both"):
        load_prices({"ZHIJIAN_PRICES": "{}", "ZHIJIAN_PRICES_FILE": str(file)})
    for bad in ('{"cpu": {"default": -1}}', '{"tpu": {}}', "not json"):
        with pytest.raises(PriceTableError, match="not valid"):
            load_prices({"ZHIJIAN_PRICES": bad})
    file.write_text("cpu: [unclosed\n")
    with pytest.raises(PriceTableError, match="not valid"):
        load_prices({"ZHIJIAN_PRICES_FILE": str(file)})
    with pytest.raises(PriceTableError, match="no gpu kind 'a100'"):
        table.per_hour("gpu", "a100")


def test_a_node_kind_missing_from_the_table_stops_the_replica(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZHIJIAN_CPU_KIND", "graviton9")
    with pytest.raises(PriceTableError, match="graviton9"):
        CostMeter("cost-c", "host-cost-c", Resources(cpus=1.0))

"""Usage and allocation of a model-host replica, per version, in device-seconds and dollars.

One :class:`CostMeter` per replica process (a replica hosts one model name). Between two ticks it
collects how long each version computed (preprocessing, ``session.run``, splitting the outputs);
at a tick it reads the process's CPU time and the wall clock and attributes:

* usage, CPU: the process CPU seconds of the interval, shared among the versions that computed in it
  in proportion to their compute time (an interval without computing is the replica's idle
  overhead: it stays out of usage, but is in ``zhijian_replica_cpu_seconds_total``);
* usage, GPU: each version's ``session.run`` wall seconds times the GPU fraction the replica holds;
* allocation: the interval's wall seconds times the CPUs (GPUs) the replica holds, shared among the
  versions by their usage in the interval, else by their usage so far, else equally among the
  versions loaded.

The sum of allocation over versions is therefore the replica's uptime times its resources, and the
idle cost (allocation minus usage) is shown, not hidden. Dollars are device-seconds times the price
table's dollars per hour / 3600.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

from services.metrics.catalog import metrics
from services.metrics.prices import Device, PriceTable, load_prices, node_kinds

TICK_S = 1.0
"""Seconds between the periodic ticks of a replica (and the least between ticks on requests)."""


@dataclass(frozen=True)
class Resources:
    """What a replica holds (its deployment's ``num_cpus`` and ``num_gpus``)."""

    cpus: float
    gpus: float = 0.0


def _shares(weights: dict[str, float]) -> dict[str, float]:
    total = sum(weights.values())
    return {key: value / total for key, value in weights.items()} if total > 0 else {}


class CostMeter:
    """Usage and allocation accounting of one replica (use from its event loop only).

    Args:
        model: The model name the replica hosts.
        deployment: The Serve deployment name (label of the replica metrics).
        resources: What the replica holds.
        prices: The price table (read from the environment when omitted).
        cpu_clock: Process CPU seconds (all threads).
        wall_clock: Monotonic wall seconds.
    """

    def __init__(self, model: str, deployment: str, resources: Resources,
                 prices: PriceTable | None = None,
                 cpu_clock: Callable[[], float] = time.process_time,
                 wall_clock: Callable[[], float] = time.monotonic) -> None:
        self.model = model
        self.deployment = deployment
        self.resources = resources
        table = prices if prices is not None else load_prices()
        kinds = node_kinds()
        self._price: dict[Device, float] = {"cpu": table.per_hour("cpu", kinds["cpu"])}
        if resources.gpus > 0:
            self._price["gpu"] = table.per_hour("gpu", kinds["gpu"])
        self._cpu_clock = cpu_clock
        self._wall_clock = wall_clock
        self._started = self._last_wall = wall_clock()
        self._last_cpu = cpu_clock()
        self._busy: dict[str, float] = {}
        """Version to compute seconds since the last tick."""
        self._gpu_busy: dict[str, float] = {}
        """Version to ``session.run`` seconds on a GPU since the last tick."""
        self._used: dict[Device, dict[str, float]] = {"cpu": {}, "gpu": {}}
        """Device to version to usage device-seconds so far (the fallback shares of allocation)."""
        self._loaded: set[str] = set()
        m = metrics()
        for device, price in self._price.items():
            m.price.labels(device).set(price)
        m.replicas.labels(deployment).set(1)
        m.uptime.labels(deployment).set(0)
        m.replica_cpu.labels(deployment)

    def hosting(self, version: int) -> None:
        """``version`` was loaded: its cost series exist from now on (at zero)."""
        key = str(version)
        self._loaded.add(key)
        m = metrics()
        for device in self._price:
            for basis in ("usage", "allocation"):
                m.device_seconds.labels(self.model, key, device, basis)
                m.cost.labels(self.model, key, device, basis)

    def released(self, version: int) -> None:
        """``version`` was released (its past cost stays)."""
        self._loaded.discard(str(version))

    def record(self, version: int, compute_s: float, gpu_run_s: float) -> None:
        """Count a batch: ``compute_s`` seconds of computing, of which ``gpu_run_s`` seconds of
        ``session.run`` on a GPU; tick when the last tick is :data:`TICK_S` old."""
        key = str(version)
        self._busy[key] = self._busy.get(key, 0.0) + compute_s
        if gpu_run_s and self.resources.gpus > 0:
            self._gpu_busy[key] = self._gpu_busy.get(key, 0.0) + gpu_run_s
        if self._wall_clock() - self._last_wall >= TICK_S:
            self.tick()

    def _add(self, version: str, device: Device, basis: str, seconds: float) -> None:
        if seconds <= 0:
            return
        m = metrics()
        m.device_seconds.labels(self.model, version, device, basis).inc(seconds)
        m.cost.labels(self.model, version, device, basis).inc(seconds * self._price[device] / 3600)

    def tick(self) -> None:
        """Attribute the CPU time and wall time since the last tick to versions."""
        wall, cpu = self._wall_clock(), self._cpu_clock()
        elapsed, spent = max(0.0, wall - self._last_wall), max(0.0, cpu - self._last_cpu)
        self._last_wall, self._last_cpu = wall, cpu
        busy, gpu_busy = self._busy, self._gpu_busy
        self._busy, self._gpu_busy = {}, {}
        m = metrics()
        m.replica_cpu.labels(self.deployment).inc(spent)
        m.uptime.labels(self.deployment).set(wall - self._started)
        usage: dict[Device, dict[str, float]] = {
            "cpu": {v: spent * share for v, share in _shares(busy).items()},
            "gpu": {v: seconds * self.resources.gpus for v, seconds in gpu_busy.items()}}
        held: dict[Device, float] = {"cpu": self.resources.cpus, "gpu": self.resources.gpus}
        for device in self._price:
            for version, seconds in usage[device].items():
                self._add(version, device, "usage", seconds)
                used = self._used[device]
                used[version] = used.get(version, 0.0) + seconds
            shares = (_shares(usage[device])
                      or _shares({v: u for v, u in self._used[device].items() if v in self._loaded})
                      or _shares({v: 1.0 for v in self._loaded}))
            for version, share in shares.items():
                self._add(version, device, "allocation", elapsed * held[device] * share)

    def close(self) -> None:
        """Account the last interval (on replica shutdown)."""
        self.tick()
        metrics().replicas.labels(self.deployment).set(0)

"""Per-version inference statistics in the shape of Triton's statistics extension, and the host's
load and cache counters."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from services.host.loaded import RunTiming


def _duration(count: int = 0, ns: int = 0) -> dict[str, int]:
    return {"count": count, "ns": ns}


@dataclass
class VersionStats:
    """Counters of one version, kept while the host lives (also after the version is released)."""

    inference_count: int = 0
    """Items answered."""
    execution_count: int = 0
    """``session.run`` calls."""
    success: list[int] = field(default_factory=lambda: [0, 0])
    fail: list[int] = field(default_factory=lambda: [0, 0])
    compute_input: list[int] = field(default_factory=lambda: [0, 0])
    compute_infer: list[int] = field(default_factory=lambda: [0, 0])
    compute_output: list[int] = field(default_factory=lambda: [0, 0])
    batches: dict[int, list[int]] = field(default_factory=dict)
    """Items per run to [count, input ns, infer ns, output ns]."""
    last_inference_ms: int = 0

    def record(self, timing: RunTiming, requests: int, failed: int, items: int, total_ns: int) -> None:
        """Add one batch: its timing, how many requests it held and failed, and their items."""
        self.inference_count += items
        self.execution_count += timing.runs
        for slot, count, ns in ((self.success, requests - failed, total_ns), (self.fail, failed, 0),
                                (self.compute_input, timing.runs, timing.compute_input_ns),
                                (self.compute_infer, timing.runs, timing.compute_infer_ns),
                                (self.compute_output, timing.runs, timing.compute_output_ns)):
            slot[0] += count
            slot[1] += ns
        if timing.runs:
            entry = self.batches.setdefault(timing.items, [0, 0, 0, 0])
            entry[0] += timing.runs
            entry[1] += timing.compute_input_ns
            entry[2] += timing.compute_infer_ns
            entry[3] += timing.compute_output_ns
        self.last_inference_ms = int(time.time() * 1000)

    def triton(self, name: str, version: int) -> dict[str, Any]:
        """This version's entry of ``model_stats`` as Triton writes it."""
        return {
            "name": name, "version": str(version), "last_inference": self.last_inference_ms,
            "inference_count": self.inference_count, "execution_count": self.execution_count,
            "inference_stats": {
                "success": _duration(*self.success), "fail": _duration(*self.fail),
                "queue": _duration(), "compute_input": _duration(*self.compute_input),
                "compute_infer": _duration(*self.compute_infer),
                "compute_output": _duration(*self.compute_output),
                "cache_hit": _duration(), "cache_miss": _duration()},
            "batch_stats": [{"batch_size": size, "compute_input": _duration(c, i),
                             "compute_infer": _duration(c, n), "compute_output": _duration(c, o)}
                            for size, (c, i, n, o) in sorted(self.batches.items())],
        }


@dataclass
class HostCounters:
    """Loading and version-cache counters of one host."""

    loads: int = 0
    load_failures: int = 0
    load_seconds_total: float = 0.0
    cache_hits: int = 0
    """Requests for a non-aliased version found loaded in the LRU."""
    cache_misses: int = 0
    """Requests for a non-aliased version that had to be loaded."""
    evictions: int = 0
    swaps: int = 0
    """Alias moves carried out (hot swaps)."""

    def as_dict(self) -> dict[str, Any]:
        """The counters as JSON-ready values."""
        return dict(self.__dict__)

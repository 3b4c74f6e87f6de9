"""Settings of a model host (one per served model name), typed and strict."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, PositiveInt


class HostConfig(BaseModel):
    """How a model host loads and runs its versions."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    device: Literal["cpu", "cuda"] = "cpu"
    """``cuda`` when the replica was given a GPU: the CUDA execution provider, CPU otherwise."""
    allow_cpu_fallback: bool = False
    """Serve on the CPU when ``device`` is ``cuda`` but the session does not run on CUDA (else the
    version is not ready, with an error saying why)."""
    cpus: PositiveFloat = 1.0
    """CPUs given to the replica; ONNX Runtime's intra-op threads are ``max(1, floor(cpus))``."""
    spinning: bool = False
    """Let idle ONNX Runtime threads spin: lower latency, but burns CPU that other replicas need."""
    lru_size: int = Field(default=2, ge=0, le=64)
    """Versions without a serving alias kept loaded (least recently used evicted first)."""
    max_items: PositiveInt = 64
    """Most items (rows) in one request."""
    warmup_items: PositiveInt = 2
    """Items in the warm-up batch run before a version is ready."""
    drain_timeout_s: PositiveFloat = 30.0
    """Longest wait for a replaced version's in-flight requests before it is released anyway."""
    nice: int = Field(default=10, ge=0, le=19)
    """Added to the niceness of a host replica's threads, so that on a saturated node the gateway
    (admission, refusals, health, metrics) runs before inference does
    (:mod:`services.host.priority`); 0 leaves the priority alone."""

    @property
    def intra_op_threads(self) -> int:
        """ONNX Runtime intra-op thread count from the configured CPUs."""
        return max(1, int(self.cpus))

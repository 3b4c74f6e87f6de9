"""Settings of the automatic canary controller, typed and strict (an unknown key is an error).

Each check compares the canary with production over the same sliding window and is judged only
when both arms have at least ``min_samples`` samples of it; a threshold set to ``null`` turns its
check off.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, PositiveInt, model_validator


class CanaryConfig(BaseModel):
    """How the canary controller measures, judges and acts (``ServeArgs.canary``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    window_s: PositiveFloat = 60.0
    """Length of the sliding window the two arms are compared over, in seconds."""
    interval_s: PositiveFloat = 5.0
    """Seconds between two evaluations of every served model that has a canary."""
    min_samples: PositiveInt = 50
    """Fewest samples each arm needs in the window before a check is judged (requests for the
    error ratio, answered requests for latency and cost, compared shadow copies for agreement);
    below it the check is ``insufficient`` and the controller holds."""
    max_error_ratio_increase: float | None = Field(default=0.01, ge=0, le=1)
    """Largest canary error ratio above production's (absolute: 0.01 is one point); the error
    ratio is a version's failed runs over its runs, as its model hosts count them."""
    max_p95_ratio: float | None = Field(default=1.5, ge=1)
    """Largest canary p95 end-to-end latency as a multiple of production's ..."""
    p95_margin_ms: float = Field(default=10.0, ge=0)
    """... unless it is within this many milliseconds of production's: a breach needs both (the
    limit is ``max(production × max_p95_ratio, production + margin)``), so that a 2 ms model
    becoming a 4 ms one is not rolled back."""
    max_cost_ratio: float | None = Field(default=1.5, ge=1)
    """Largest canary cost per 1,000 inferences as a multiple of production's."""
    cost_basis: Literal["usage", "allocation"] = "usage"
    """Which dollars the cost check compares (``zhijian_cost_dollars_total{basis}``)."""
    min_agreement: float | None = Field(default=0.95, ge=0, le=1)
    """Least mean agreement of the canary's answers with production's, measured when the canary
    version is also the ``shadow`` (otherwise the check is not applicable)."""
    auto_promote: bool = False
    """Promote the canary to production (through the production gates, actor
    ``canary-controller``) once every check has passed for ``promote_after_s``. Off: the
    controller only ever rolls back."""
    promote_after_s: float = Field(default=600.0, ge=0)
    """How long every check must pass without a break before an automatic promotion."""
    prometheus_url: str | None = Field(default=None, pattern=r"^https?://[^\s]+$")
    """Prometheus' base URL (``http://prometheus:9090``): the windows come from its HTTP API,
    which sees every node. ``null``: from this node's multiprocess metric files, exact on one
    machine; on a Ray cluster of several nodes the controller then holds and says why."""
    prometheus_timeout_s: PositiveFloat = 5.0
    """Longest wait for one Prometheus query."""
    num_cpus: PositiveFloat = 0.05
    """CPUs the controller's replica holds (it is idle between evaluations)."""

    @model_validator(mode="after")
    def _check(self) -> "CanaryConfig":
        if self.interval_s > self.window_s:
            raise ValueError(f"interval_s ({self.interval_s:g}) must not exceed window_s "
                             f"({self.window_s:g}): evaluations would skip parts of the traffic")
        checks = (self.max_error_ratio_increase, self.max_p95_ratio, self.max_cost_ratio,
                  self.min_agreement)
        if all(threshold is None for threshold in checks):
            raise ValueError("every check is off (all thresholds null): turn one on, or leave "
                             "ServeArgs.canary null to run no controller")
        return self

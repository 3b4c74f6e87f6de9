"""Settings of the gateway (the HTTP ingress), typed and strict; process knobs come from the
environment, read once at start (:meth:`GatewayConfig.from_env`)."""

from __future__ import annotations

import os

from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, PositiveInt, SecretStr

ADMIN_TOKEN_ENV = "ZHIJIAN_ADMIN_TOKEN"
"""Environment variable holding the admin bearer token."""
MIN_TOKEN_LENGTH = 16


class GatewayConfig(BaseModel):
    """How the gateway validates, admits, times out and authenticates requests."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    admin_token: SecretStr = Field(min_length=MIN_TOKEN_LENGTH)
    """Bearer token of the admin API (at least 16 characters; the service refuses to start without
    one, and never logs it)."""
    max_body_bytes: PositiveInt = 16 * 1024 * 1024
    """Largest accepted request body; a larger ``Content-Length`` is refused (413) before reading."""
    deadline_s: PositiveFloat = 10.0
    """Longest time an inference may take (a request's ``parameters.timeout`` can only shorten it)."""
    max_in_flight: PositiveInt = 64
    """Requests in flight per model before new ones get 429 (admission control)."""
    retry_after_s: PositiveInt = 1
    """``Retry-After`` seconds of a 429 answer."""
    shadow_percent: float = Field(default=100.0, ge=0, le=100)
    """Share of production requests copied to the ``shadow`` version when a model has one."""
    shadow_max_in_flight: PositiveInt = 4
    """Shadow copies running at once; beyond it new copies are dropped (and counted)."""
    poll_interval_s: float = Field(default=30.0, ge=0)
    """Seconds between reads of the registry's aliases (0: only on admin reload)."""

    @classmethod
    def from_env(cls, **settings: object) -> "GatewayConfig":
        """The config with the admin token from ``$ZHIJIAN_ADMIN_TOKEN`` (other fields as given).

        Raises:
            pydantic.ValidationError: The token is missing or shorter than 16 characters.
        """
        return cls(admin_token=SecretStr(os.environ.get(ADMIN_TOKEN_ENV, "")), **settings)

"""Settings of the gateway (the HTTP ingress), typed and strict; process knobs come from the
environment, read once at start (:meth:`GatewayConfig.from_env`)."""

from __future__ import annotations

import os

from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, PositiveInt, SecretStr

ADMIN_TOKEN_ENV = "ZHIJIAN_ADMIN_TOKEN"
"""Environment variable holding the admin bearer token."""
API_KEY_ENV = "ZHIJIAN_API_KEY"
"""Environment variable holding the data plane's API key (unset or empty: no key needed)."""
MIN_TOKEN_LENGTH = 16


class GatewayConfig(BaseModel):
    """How the gateway validates, admits, times out and authenticates requests."""

    # A too-short token or key must not be echoed by the refusal.
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    admin_token: SecretStr = Field(min_length=MIN_TOKEN_LENGTH)
    """Bearer token of the admin API (at least 16 characters; the service refuses to start without
    one, and never logs it)."""
    api_key: SecretStr | None = Field(default=None, min_length=MIN_TOKEN_LENGTH)
    """Bearer key of the data plane (``/v1/`` and ``/v2`` but ``/v2/health/``), at least 16
    characters; ``None``: open. Health, ``/metrics`` and the admin API (its own token) never take
    it. Compared in constant time and never logged."""
    max_body_bytes: PositiveInt = 16 * 1024 * 1024
    """Largest accepted request body; a larger ``Content-Length`` is refused (413) before reading."""
    deadline_s: PositiveFloat = 10.0
    """Longest time an inference may take (a request's ``parameters.timeout`` can only shorten it)."""
    max_in_flight: PositiveInt = 32
    """Requests in flight per model before new ones get 429 (admission control), whatever the
    model's speed. The default is twice the hosts' default ``max_batch_size``: one batch running,
    the next one forming; more only adds queueing (raise it with ``max_batch_size``). Measured on 2
    cores under 4x overload (6 runs each, interleaved), 32 instead of 64 halved the successful
    median (350 to 191 ms) and the median refusal (27 to 15 ms) and cut the refusals' p99 from 1.19
    to 0.73 s, for 13% fewer answers during the overload (docs/reliability.md)."""
    max_queue_s: float = Field(default=1.0, ge=0, le=60)
    """Also 429 when a model's requests in flight would take longer than this to drain at its
    measured completion rate (0: only ``max_in_flight``); bounds queueing for slow models, and
    the backlog left when an overload ends."""
    min_in_flight: PositiveInt = 32
    """Requests in flight per model that are always admitted, whatever the measured rate: a burst
    after an idle spell, before any rate is measured, up to what a host's batcher takes at once
    (twice the default ``max_batch_size``)."""
    retry_after_s: PositiveInt = 1
    """``Retry-After`` seconds of a 429 answer."""
    shadow_percent: float = Field(default=100.0, ge=0, le=100)
    """Share of production requests copied to the ``shadow`` version when a model has one."""
    shadow_max_in_flight: PositiveInt = 4
    """Shadow copies running at once; beyond it new copies are dropped (and counted)."""
    poll_interval_s: float = Field(default=30.0, ge=0)
    """Seconds between reads of the registry's aliases (0: only on admin reload)."""
    server_timing: bool = False
    """Answer each inference with a ``Server-Timing`` header: the gateway's time until the answer,
    the host call's, and the host's stages (queue, input, infer, output), in milliseconds. Off by
    default: it tells clients how busy the service is."""

    @classmethod
    def from_env(cls, **settings: object) -> "GatewayConfig":
        """The config with the admin token from ``$ZHIJIAN_ADMIN_TOKEN`` and the API key from
        ``$ZHIJIAN_API_KEY`` (unset or empty: none); other fields as given.

        Raises:
            pydantic.ValidationError: The token is missing or shorter than 16 characters, or the
                API key is set but shorter than 16 characters.
        """
        api_key = os.environ.get(API_KEY_ENV, "")
        return cls(admin_token=SecretStr(os.environ.get(ADMIN_TOKEN_ENV, "")),
                   api_key=SecretStr(api_key) if api_key else None, **settings)

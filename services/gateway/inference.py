"""One inference through the gateway: routing, admission, the deadline, and the host call."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace

from starlette.requests import Request

from services.errors import DeadlineExceededError, UnknownVersionError
from services.gateway.admission import Admission
from services.gateway.config import GatewayConfig
from services.gateway.fleet import Fleet
from services.gateway.shadow import Shadow
from services.host.interface import HostClient
from services.host.messages import HostRequest, HostResponse, Target
from services.metrics import metrics
from services.protocol.codec import Tensor
from services.routing import ROUTE_KEY_HEADER, routing_key


class Gateway:
    """What the routes share: config, served models, admission control.

    Args:
        config: Gateway settings.
        fleet: The served models.
    """

    def __init__(self, config: GatewayConfig, fleet: Fleet) -> None:
        self.config = config
        self.fleet = fleet
        self.admission = Admission(config.max_in_flight, config.retry_after_s, config.max_queue_s,
                                   config.min_in_flight)
        self.shadow = Shadow(config.shadow_percent, config.shadow_max_in_flight)

    @staticmethod
    async def _call(host: HostClient, call: HostRequest) -> HostResponse:
        """``host.infer(call)``; a request routed to a canary that its host no longer serves (the
        canary was just rolled back, and this gateway has not refreshed yet) goes to production."""
        try:
            return await host.infer(call)
        except UnknownVersionError:
            if call.target.alias != "canary":
                raise
            return await host.infer(replace(call, target=Target(alias="production")))

    def deadline(self, requested_s: float | None) -> float:
        """The deadline of a request: the server's, or the request's when shorter (0: none asked)."""
        if requested_s:
            return min(self.config.deadline_s, requested_s)
        return self.config.deadline_s

    async def infer(self, request: Request, model: str, version: str | None,
                    inputs: tuple[Tensor, ...], outputs: tuple[str, ...] | None,
                    oip_id: str | None, timeout_s: float | None) -> HostResponse:
        """Route, admit and run one inference within its deadline.

        Raises:
            ServiceError: Unknown model or version, overload (429), deadline (504), or the host's
                refusal (bad input, not ready).
        """
        host = self.fleet.host(model)
        key = routing_key(request.headers.get(ROUTE_KEY_HEADER), oip_id)
        if version is not None:
            target = Target(version=self.fleet.version(version))
        else:
            target = self.fleet.target(model, key)
        deadline = self.deadline(timeout_s)
        call = HostRequest(request.state.request_id, target, inputs, outputs)
        async with self.admission.slot(model):
            in_flight = metrics().in_flight.labels(model)
            in_flight.inc()
            start = time.perf_counter()
            try:
                answer = await asyncio.wait_for(self._call(host, call), deadline)
                host_ms = (time.perf_counter() - start) * 1e3
            except TimeoutError as exc:
                raise DeadlineExceededError(f"no answer from model '{model}' within {deadline:g} s") \
                    from exc
            finally:
                in_flight.dec()
        request.state.batch_size = answer.batch_items
        if self.config.server_timing:
            request.state.server_timing = (("host", host_ms), *answer.timing)
        if target.alias == "production" and "shadow" in self.fleet.serving.get(model, {}) \
                and self.shadow.sampled(key):
            self.shadow.mirror(model, host, call, answer)  # in the background, never awaited here
        return answer

"""The gateway's view of the served models: their hosts, the versions serving each alias, and the
canary percent; the traffic policy choosing production or canary per request; and the release
gauges (``zhijian_traffic_percent``, ``zhijian_alias_version``) set whenever that view changes."""

from __future__ import annotations

import asyncio
from typing import Callable

from services.errors import ServiceError, UnknownModelError, UnknownVersionError
from services.gateway.config import GatewayConfig
from services.host.interface import HostClient
from services.host.messages import Target
from services.metrics import metrics
from services.metrics.catalog import ALIASES
from services.routing import goes_to_canary
from zhijian_core.errors import InvalidNameError, ZhijianError
from zhijian_core.names import check_model_name, check_version

CanaryPercent = Callable[[str], "int | None"]
"""Reads a model's canary percent (the registry's tag); called in a worker thread."""


class Fleet:
    """Served models by name.

    Args:
        hosts: Model name to its host.
        canary_percent: Reads a model's canary percent.
        shadow_percent: The share of production requests the gateway mirrors to a ``shadow``
            version (``GatewayConfig.shadow_percent``), for the traffic gauge.
    """

    def __init__(self, hosts: dict[str, HostClient], canary_percent: CanaryPercent,
                 shadow_percent: float = GatewayConfig.model_fields["shadow_percent"].default
                 ) -> None:
        self.hosts = hosts
        self.serving: dict[str, dict[str, int]] = {name: {} for name in hosts}
        self.percents: dict[str, int | None] = {name: None for name in hosts}
        self.errors: dict[str, str] = {}
        self.shadow_percent = shadow_percent
        self._canary_percent = canary_percent

    def host(self, model: str) -> HostClient:
        """The host of ``model``.

        Raises:
            UnknownModelError: The name breaks the grammar or is not served.
        """
        try:
            check_model_name(model)
        except InvalidNameError as exc:
            raise UnknownModelError(f"unknown model: {exc}") from exc
        if model not in self.hosts:
            raise UnknownModelError(f"model '{model}' is not served; GET /admin/models or POST "
                                    "/v2/repository/index lists the served models")
        return self.hosts[model]

    @staticmethod
    def version(value: str) -> int:
        """A version path segment as a number.

        Raises:
            UnknownVersionError: It is not a positive integer.
        """
        try:
            return check_version(value)
        except InvalidNameError as exc:
            raise UnknownVersionError(f"unknown version: {exc}") from exc

    def target(self, model: str, key: str) -> Target:
        """The alias a request with routing key ``key`` goes to: canary iff the model has a canary
        and the key's bucket is below its percent, production otherwise."""
        if "canary" in self.serving.get(model, {}) and goes_to_canary(key, self.percents.get(model)):
            return Target(alias="canary")
        return Target(alias="production")

    def split(self, model: str) -> dict[str, float]:
        """The share of ``model``'s requests each serving alias gets now, in percent: production
        100 minus the canary's, the canary its percent, the shadow the share mirrored (0 for an
        alias not served)."""
        serving = self.serving.get(model, {})
        canary = (self.percents.get(model) or 0) if "canary" in serving else 0
        return {"production": float(100 - canary) if "production" in serving else 0.0,
                "canary": float(canary),
                "shadow": float(self.shadow_percent) if "shadow" in serving else 0.0}

    def _publish(self, model: str) -> None:
        """Set the release gauges of ``model`` from the current view."""
        m = metrics()
        split = self.split(model)
        serving = self.serving.get(model, {})
        for alias in ALIASES:
            m.traffic_percent.labels(model, alias).set(split[alias])
            m.alias_version.labels(model, alias).set(serving.get(alias, 0))

    async def refresh(self, model: str | None = None) -> dict[str, dict[str, int]]:
        """Re-read the canary percents, then have each host (or ``model``'s) follow the registry.

        The percent is read first: when a canary is taken out (percent, then alias removed), the
        gateway stops routing to it before its host drops it, so no request is sent to a canary
        that is gone.

        Returns:
            Model name to alias to serving version.
        """
        names = [model] if model is not None else list(self.hosts)
        for name in names:
            try:
                self.percents[name] = await asyncio.to_thread(self._canary_percent, name)
                self.serving[name] = await self.hosts[name].sync()
                self.errors.pop(name, None)
            except (ServiceError, ZhijianError) as exc:  # the registry is down: keep serving
                self.errors[name] = str(exc)
            self._publish(name)
        return {name: dict(self.serving[name]) for name in names}

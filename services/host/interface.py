"""The calls a gateway makes on a model host: small, async, and with plain picklable arguments and
results, so that a Ray Serve DeploymentHandle can implement them later unchanged
(``await handle.infer.remote(request)``). :class:`services.host.ModelHost` implements it in-process.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from services.host.messages import HostRequest, HostResponse, Readiness
from services.protocol.models import ModelMetadata


@runtime_checkable
class HostClient(Protocol):
    """A model host as the gateway sees it."""

    async def infer(self, request: HostRequest) -> HostResponse:
        """Answer one inference request; raise a ``ServiceError`` to refuse it."""
        ...

    async def readiness(self, version: int | None = None) -> Readiness:
        """Whether production (or ``version``) can answer."""
        ...

    async def metadata(self, version: int | None = None) -> ModelMetadata:
        """OIP metadata of production (or ``version``)."""
        ...

    async def preflight(self, version: int) -> Readiness:
        """Whether ``version`` verifies, loads and warms up (before an alias moves to it)."""
        ...

    async def statistics(self, version: int | None = None) -> dict[str, Any]:
        """Triton-style statistics."""
        ...

    async def sync(self) -> dict[str, int]:
        """Follow the registry's aliases now; return alias to version served."""
        ...

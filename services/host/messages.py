"""What the gateway sends a model host and what it answers: plain, picklable values, so the same
calls can later cross a Ray DeploymentHandle unchanged."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from services.protocol.codec import Tensor


@dataclass(frozen=True)
class Target:
    """Which version answers: an alias (``production``, ``canary`` ...) or an explicit version."""

    alias: str | None = None
    version: int | None = None

    def __post_init__(self) -> None:
        if (self.alias is None) == (self.version is None):
            raise ValueError("a Target names exactly one of alias and version")

    def __str__(self) -> str:
        return f"alias {self.alias!r}" if self.alias is not None else f"version {self.version}"


@dataclass(frozen=True)
class HostRequest:
    """One inference request, decoded by the gateway and not yet bound to a version's signature.

    Attributes:
        request_id: The gateway's request id (logs and the ``X-Request-Id`` header).
        target: The alias or version to answer with.
        inputs: The request tensors.
        outputs: Output names asked for; ``None`` for all.
    """

    request_id: str
    target: Target
    inputs: tuple[Tensor, ...]
    outputs: tuple[str, ...] | None = None


@dataclass(frozen=True)
class HostResponse:
    """A host's answer to one request.

    Attributes:
        version: The version that answered.
        outputs: Output name to array (rows of this request only), in the order asked for.
        batch_items: Items in the ``session.run`` this request was part of.
        task: ``classification`` or ``embedding``.
        labels: Class names (classification).
        timing: Where the host's time went, as ``(stage, milliseconds)``: ``queue`` (waiting for
            its batch; only when batched), then its batch's ``input`` (preprocessing), ``infer``
            (``session.run``) and ``output`` (splitting the outputs). The gateway's
            ``Server-Timing`` header shows them.
    """

    version: int
    outputs: dict[str, np.ndarray]
    batch_items: int
    task: str
    labels: tuple[str, ...] = ()
    timing: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True)
class Readiness:
    """Whether a model (version) can answer, and why not."""

    ready: bool
    reason: str = ""
    versions: dict[str, int] = field(default_factory=dict)
    """Alias to loaded version."""

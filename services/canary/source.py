"""Where the canary controller reads its windows from: the interface and its error."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from services.canary.window import Totals
from services.errors import ServiceError


class MetricsSourceError(ServiceError):
    """A metrics source cannot give a trustworthy window (Prometheus unreachable, a query refused,
    or node-local files on a cluster of several nodes); the controller holds."""


@dataclass(frozen=True)
class Window:
    """Each version's counts over (about) the window."""

    versions: dict[int, Totals]
    """Version to the increase of its counts."""
    covered_s: float
    """Seconds the counts cover (less than asked for while the source is younger than the
    window; 0 before a source has two readings)."""


class MetricsSource(Protocol):
    """Gives the increase of a model's counts, per version, over the last ``window_s`` seconds."""

    def window(self, model: str, window_s: float) -> Window:
        """The increase of ``model``'s counts over the last ``window_s`` seconds (blocking: the
        controller calls it in a worker thread).

        Raises:
            MetricsSourceError: The counts cannot be read or cannot be trusted.
        """
        ...

"""Where a host finds its bundles: the registry, or (for tests and local runs) a fixed table.

Both answer synchronously (MLflow's client is synchronous); the host calls them in a worker thread.
Core registry errors become service errors here, so the gateway maps them by the one table.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from services.errors import (NotReadyError, RegistryUnavailableError, UnknownModelError,
                             UnknownVersionError)
from zhijian_core.errors import (AliasNotFoundError, BundleError, ModelNotFoundError, RegistryError,
                                 VersionNotFoundError, ZhijianError)

if TYPE_CHECKING:
    from zhijian_core.registry import Registry


class BundleSource(Protocol):
    """What a host needs to know about a model's versions."""

    def locate(self, name: str, version: int) -> Path:
        """The local folder of version ``version`` of ``name``.

        Raises:
            UnknownModelError, UnknownVersionError: No such model or version.
            NotReadyError: The bundle cannot be fetched or verified.
            RegistryUnavailableError: The registry failed.
        """
        ...

    def aliases(self, name: str) -> dict[str, int]:
        """Alias to version of model ``name``."""
        ...


def service_error(exc: ZhijianError) -> Exception:
    """The service error a core error becomes."""
    if isinstance(exc, ModelNotFoundError):
        return UnknownModelError(str(exc))
    if isinstance(exc, (VersionNotFoundError, AliasNotFoundError)):
        return UnknownVersionError(str(exc))
    if isinstance(exc, BundleError):
        return NotReadyError(str(exc))
    if isinstance(exc, RegistryError):
        return RegistryUnavailableError(str(exc))
    return UnknownVersionError(str(exc))  # a name, alias or version breaking the grammar


class RegistrySource:
    """Bundles of the MLflow registry, verified on resolution.

    Args:
        registry: The registry client.
    """

    def __init__(self, registry: "Registry") -> None:
        self._registry = registry

    def locate(self, name: str, version: int) -> Path:
        """See :meth:`BundleSource.locate`."""
        try:
            return self._registry.resolve(name, version).path
        except ZhijianError as exc:
            raise service_error(exc) from exc

    def aliases(self, name: str) -> dict[str, int]:
        """See :meth:`BundleSource.aliases`."""
        try:
            return self._registry.aliases(name)
        except ZhijianError as exc:
            raise service_error(exc) from exc


class StaticSource:
    """A fixed table of bundle folders and aliases (local runs and tests).

    Args:
        versions: Model name to version to bundle folder.
        aliases: Model name to alias to version; edit it to move an alias.
    """

    def __init__(self, versions: dict[str, dict[int, Path]],
                 aliases: dict[str, dict[str, int]] | None = None) -> None:
        self.versions = versions
        self.alias_table = aliases or {}

    def locate(self, name: str, version: int) -> Path:
        """See :meth:`BundleSource.locate`."""
        if name not in self.versions:
            raise UnknownModelError(f"no model '{name}'")
        if version not in self.versions[name]:
            raise UnknownVersionError(f"model '{name}' has no version {version}")
        return self.versions[name][version]

    def aliases(self, name: str) -> dict[str, int]:
        """See :meth:`BundleSource.aliases`."""
        if name not in self.versions:
            raise UnknownModelError(f"no model '{name}'")
        return dict(self.alias_table.get(name, {}))

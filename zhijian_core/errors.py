"""Errors of the reuse core: one root, typed leaves.

::

    ZhijianError
    ├── ConfigError               a config, recipe or CLI value is invalid
    │   └── InvalidNameError      a model name, alias or version breaks the names grammar
    ├── MissingDependencyError    an optional extra is not installed
    ├── PTMError                  a PTM spec cannot be parsed or its model cannot be loaded
    ├── DatasetError              a dataset is missing, malformed or empty
    ├── PreprocessError           raw input cannot be turned into tensors
    ├── MethodError               a reuse method is unknown or misconfigured
    │   └── NotApplicableError    a method does not apply to the given backbone
    ├── RunStoreError             a stored run cannot be written or read back
    ├── RegistryError             the model registry cannot be opened, read or written
    │   ├── ModelNotFoundError    no registered model has that name
    │   ├── VersionNotFoundError  the model has no such version
    │   ├── AliasNotFoundError    the model has no such alias
    │   ├── RegistryLockError     the registry's writer lock could not be taken in time
    │   └── PromotionError        a promotion or rollback cannot be carried out
    │       └── GateError         a promotion gate failed (and it was not forced)
    └── BundleError               a bundle cannot be written, or is invalid
        ├── BundleIntegrityError  a file's SHA-256 does not match the manifest (or is missing)
        ├── SchemaVersionError    the manifest's schema is of a newer major version
        └── ExportError           an export failed its own checks (ONNX, parity, evaluation data)

The command line prints any ``ZhijianError`` as one line and exits non-zero, without a traceback.
"""

from __future__ import annotations


class ZhijianError(Exception):
    """Root of every error raised on purpose by the reuse core."""


class ConfigError(ZhijianError):
    """A config, recipe or command-line value is invalid."""


class MissingDependencyError(ZhijianError):
    """An optional dependency is missing; the message names the extra that provides it."""


class PTMError(ZhijianError):
    """A PTM spec cannot be parsed, or the model it names cannot be loaded."""


class DatasetError(ZhijianError):
    """A dataset is missing, malformed or empty."""


class PreprocessError(ZhijianError):
    """Raw input (text or an encoded image) cannot be turned into model tensors."""


class MethodError(ZhijianError):
    """A reuse method is unknown, registered twice or misconfigured."""


class NotApplicableError(MethodError):
    """A reuse method does not apply to the given backbone; the message says what is missing."""


class RunStoreError(ZhijianError):
    """A run cannot be stored, or a stored run cannot be read back."""


class BundleError(ZhijianError):
    """A bundle cannot be written, or what is on disk is not a valid bundle."""


class BundleIntegrityError(BundleError):
    """A bundle file is missing, extra or its SHA-256 does not match the manifest."""


class SchemaVersionError(BundleError):
    """A manifest's schema is of a newer major version than this code reads."""


class InvalidNameError(ConfigError):
    """A model name, alias or version does not follow the grammar of ``zhijian_core.names``."""


class RegistryError(ZhijianError):
    """The model registry cannot be opened, read or written."""


class ModelNotFoundError(RegistryError):
    """No registered model has the given name."""


class VersionNotFoundError(RegistryError):
    """The registered model has no such version."""


class AliasNotFoundError(RegistryError):
    """The registered model has no such alias."""


class RegistryLockError(RegistryError):
    """The registry's writer lock is held by another process for longer than the timeout."""


class PromotionError(RegistryError):
    """A promotion or rollback cannot be carried out (bad request, nothing to roll back to)."""


class GateError(PromotionError):
    """A promotion gate failed and the promotion was not forced.

    Attributes:
        decision: The refused ``zhijian_core.registry.Decision``, with every gate's result.
    """

    def __init__(self, message: str, decision: object = None) -> None:
        super().__init__(message)
        self.decision = decision


class ExportError(BundleError):
    """An export failed one of its own checks: the ONNX graph, parity with PyTorch, or the data."""

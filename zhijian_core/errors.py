"""Errors of the reuse core: one root, typed leaves.

::

    ZhijianError
    ├── ConfigError               a config, recipe or CLI value is invalid
    ├── MissingDependencyError    an optional extra is not installed
    ├── PTMError                  a PTM spec cannot be parsed or its model cannot be loaded
    ├── DatasetError              a dataset is missing, malformed or empty
    ├── PreprocessError           raw input cannot be turned into tensors
    ├── MethodError               a reuse method is unknown or misconfigured
    │   └── NotApplicableError    a method does not apply to the given backbone
    └── RunStoreError             a stored run cannot be written or read back

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

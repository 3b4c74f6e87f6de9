"""Errors of the serving side: one root, typed leaves.

::

    ServiceError
    └── EnvironmentConflictError  the environment cannot serve (two ONNX Runtimes installed)
"""

from __future__ import annotations


class ServiceError(Exception):
    """Root of every error raised on purpose by the serving side."""


class EnvironmentConflictError(ServiceError):
    """The Python environment is inconsistent (for example two ONNX Runtimes installed)."""

"""Errors of the serving side: one root, typed leaves, and the one table mapping them to HTTP statuses.

::

    ServiceError                     500  a bug or an unexpected state (never caused by input)
    ├── EnvironmentConflictError     500  the environment cannot serve (two ONNX Runtimes installed)
    ├── InvalidInputError            400  malformed JSON, wrong tensor names, dtypes, shapes or sizes,
    │                                     undecodable images, empty inputs, too many items
    ├── UnknownModelError            404  no served model by that name (or the name breaks the grammar)
    │   └── UnknownVersionError      404  the model has no such version (or alias)
    ├── RouteNotFoundError           404  no route for the path
    ├── MethodNotAllowedError        405  the route exists but not for this HTTP method
    ├── ConflictError                409  an admin action the registry refused (a failed gate ...)
    ├── PayloadTooLargeError         413  the body is larger than the configured limit
    ├── UnauthorizedError            401  an admin path without a valid bearer token
    ├── ForbiddenError               403  the admin API is disabled (no token configured)
    ├── OverloadedError              429  too many requests in flight for the model (Retry-After)
    ├── NotImplementedByServerError  501  an optional OIP extension this server does not implement
    ├── NotReadyError                503  a model (version) cannot serve now (Retry-After)
    │   └── DeviceUnavailableError   503  configured for CUDA, but the session does not run on CUDA
    ├── RegistryUnavailableError     503  the model registry could not be read or written
    └── DeadlineExceededError        504  the gateway's deadline passed before the answer

Every error answer is the JSON body ``{"error": "<message>"}`` with the status of
:func:`status_for`; :func:`error_body` and :func:`error_headers` build it.
"""

from __future__ import annotations

import json

RETRY_AFTER_S = 1
"""Default ``Retry-After`` seconds of 429 and 503 answers."""


class ServiceError(Exception):
    """Root of every error raised on purpose by the serving side."""


class EnvironmentConflictError(ServiceError):
    """The Python environment is inconsistent (for example two ONNX Runtimes installed)."""


class InvalidInputError(ServiceError):
    """The request is malformed or does not match the model's inputs."""


class UnknownModelError(ServiceError):
    """No model by that name is served."""


class UnknownVersionError(UnknownModelError):
    """The model is served, but has no such version or alias."""


class RouteNotFoundError(ServiceError):
    """No route matches the path."""


class MethodNotAllowedError(ServiceError):
    """The path exists, but not for this HTTP method."""


class ConflictError(ServiceError):
    """The registry refused an admin action (a promotion gate failed, nothing to roll back ...)."""


class PayloadTooLargeError(ServiceError):
    """The request body is larger than the configured limit."""


class UnauthorizedError(ServiceError):
    """An admin request without a valid bearer token."""


class ForbiddenError(ServiceError):
    """The admin API is disabled: no admin token is configured."""


class _RetryLater(ServiceError):
    """An error whose answer carries ``Retry-After``."""

    def __init__(self, message: str, retry_after_s: int = RETRY_AFTER_S) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class OverloadedError(_RetryLater):
    """The model already has its maximum of requests in flight (admission control)."""


class NotImplementedByServerError(ServiceError):
    """An optional protocol extension that this server answers but does not implement."""


class NotReadyError(_RetryLater):
    """The model or version cannot serve now (loading, failed to load)."""


class DeviceUnavailableError(NotReadyError):
    """A session configured for CUDA does not run on CUDA and CPU fallback is not allowed."""


class ReplicaUnavailableError(_RetryLater):
    """A model-host replica died or could not be reached while it held the request."""


class RegistryUnavailableError(_RetryLater):
    """The model registry could not be read or written."""


class DeadlineExceededError(ServiceError):
    """The gateway's deadline (or the request's shorter ``parameters.timeout``) passed."""


ERROR_STATUS: dict[type[ServiceError], int] = {
    ServiceError: 500,
    EnvironmentConflictError: 500,
    InvalidInputError: 400,
    UnknownModelError: 404,
    UnknownVersionError: 404,
    RouteNotFoundError: 404,
    MethodNotAllowedError: 405,
    ConflictError: 409,
    PayloadTooLargeError: 413,
    UnauthorizedError: 401,
    ForbiddenError: 403,
    OverloadedError: 429,
    NotImplementedByServerError: 501,
    NotReadyError: 503,
    DeviceUnavailableError: 503,
    RegistryUnavailableError: 503,
    ReplicaUnavailableError: 503,
    DeadlineExceededError: 504,
}
"""The one table: error class to HTTP status. A class not listed takes its nearest listed base's."""

ERROR_STATUSES = frozenset(ERROR_STATUS.values())
"""Every status an error answer may have."""


def status_for(error: BaseException) -> int:
    """HTTP status of ``error``: its class's entry in :data:`ERROR_STATUS`, else its nearest base's;
    500 for anything that is not a :class:`ServiceError`."""
    for cls in type(error).__mro__:
        if cls in ERROR_STATUS:
            return ERROR_STATUS[cls]
    return 500


def error_body(message: str) -> bytes:
    """The JSON body of every error answer: ``{"error": message}``."""
    return json.dumps({"error": message}).encode()


def error_headers(error: BaseException) -> dict[str, str]:
    """Extra headers of an error answer (``Retry-After`` for 429 and 503)."""
    if isinstance(error, _RetryLater):
        return {"Retry-After": str(error.retry_after_s)}
    return {}


def public_message(error: BaseException) -> str:
    """The message an answer may show: the error's own for a :class:`ServiceError`, a generic one
    for anything else (a bug's text may hold internals)."""
    if isinstance(error, ServiceError):
        return str(error) or type(error).__name__
    return "internal error; the request id in the X-Request-Id header finds it in the logs"

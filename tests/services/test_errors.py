"""The one error table: every error class has a status; bodies are JSON with 'error'."""

from __future__ import annotations

import inspect
import json

from services import errors
from services.errors import (ERROR_STATUS, DeviceUnavailableError, OverloadedError, ServiceError,
                             error_body, error_headers, public_message, status_for)


def test_every_error_class_is_in_the_table() -> None:
    classes = {obj for _, obj in inspect.getmembers(errors, inspect.isclass)
               if issubclass(obj, ServiceError) and not obj.__name__.startswith("_")}
    assert classes == set(ERROR_STATUS)


def test_statuses_and_headers() -> None:
    assert status_for(errors.InvalidInputError("x")) == 400
    assert status_for(errors.UnknownVersionError("x")) == 404
    assert status_for(DeviceUnavailableError("x")) == 503
    assert status_for(ValueError("x")) == 500
    assert error_headers(OverloadedError("busy", retry_after_s=2)) == {"Retry-After": "2"}
    assert error_headers(errors.InvalidInputError("x")) == {}
    assert json.loads(error_body("bad")) == {"error": "bad"}
    assert public_message(errors.InvalidInputError("bad shape")) == "bad shape"
    assert "internal error" in public_message(KeyError("secret internals"))

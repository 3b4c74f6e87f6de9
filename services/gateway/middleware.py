"""The gateway's outer layer (plain ASGI): request ids, the body limit, admin and API-key
authentication before routing, the JSON error answer of last resort, and one JSON access-log line
per request.

It runs before FastAPI routes anything, so an oversized ``Content-Length`` is refused before a byte
of the body is read, and an admin path without a valid token is 401 even when no route matches. With
an API key configured, the same holds for the data plane (every path under ``/v1/`` and ``/v2``
except ``/v2/health/``); health, ``/metrics`` and the OpenAPI document stay open.

Admission control also answers here first: an inference path of a model whose bound is reached is
429 before its body is read or parsed. Under overload most requests are refused, and a refusal that
first decoded its body cost as much gateway time as an answer, so the event loop fell behind and
refusals waited hundreds of milliseconds in its queue (measured in ``benchmarks/reliability.py``).
"""

from __future__ import annotations

import hmac
import json
import logging
import re
import time
import uuid
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Collection, Iterable, NamedTuple

from services.errors import (ForbiddenError, InvalidInputError, PayloadTooLargeError,
                             UnauthorizedError, error_body, error_headers, public_message,
                             status_for)
from services.metrics import NONE, metrics

if TYPE_CHECKING:
    from services.gateway.admission import Admission

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

REQUEST_ID = "X-Request-Id"
"""Header carrying the request id (taken from the request when well-formed, else generated)."""
MODEL_VERSION = "X-Zhijian-Model-Version"
"""Header naming the version that answered."""
SERVER_TIMING = b"server-timing"
"""Header of an inference's stages (``GatewayConfig.server_timing``)."""
ADMIN_PREFIX = "/admin"
METRICS_PATH = "/metrics"
"""Prometheus' scrape path (left out of the request metrics it serves)."""
DASHBOARD_PATH = "/dashboard"
"""The built-in dashboard page."""
DASHBOARD_DATA_PATH = "/dashboard/data"
"""What the dashboard page polls."""
UNMEASURED_PATHS = frozenset({METRICS_PATH, DASHBOARD_PATH, DASHBOARD_DATA_PATH})
"""Monitoring paths left out of the request metrics (their polling would show as traffic)."""
DATA_PREFIXES = ("/v1/", "/v2")
"""Paths that need the API key when one is configured ..."""
OPEN_PREFIXES = ("/v2/health/",)
"""... except these (liveness and readiness probes)."""
ACCESS_LOG = "zhijian.access"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_DIGITS = re.compile(r"[0-9]+")  # str.isdigit() also takes "²", which int() refuses


class InferenceRoute(NamedTuple):
    """The model and route template of an inference path (the labels of its request metrics)."""

    model: str
    route: str


INFERENCE_ROUTES = ("/v2/models/{model}/infer", "/v2/models/{model}/versions/{version}/infer",
                    "/v1/models/{model}:predict")
"""The POST routes of ``oip.py`` and ``predict.py`` that run an inference (a test checks the app
has exactly these)."""


def _pattern(template: str) -> re.Pattern[str]:
    """A route template matched as Starlette does: each ``{name}`` one path segment; the model's
    captured."""
    parts = re.split(r"\{(\w+)\}", template)  # literal, name, literal, ...
    return re.compile("".join(re.escape(part) if index % 2 == 0
                              else "([^/]+)" if part == "model" else "[^/]+"
                              for index, part in enumerate(parts)))


_INFERENCE_PATTERNS = tuple((_pattern(route), route) for route in INFERENCE_ROUTES)


def inference_route(path: str) -> InferenceRoute | None:
    """The model and route of an inference ``path`` (already percent-decoded), else ``None``."""
    for pattern, route in _INFERENCE_PATTERNS:
        match = pattern.fullmatch(path)
        if match is not None:
            return InferenceRoute(match[1], route)
    return None


def needs_api_key(path: str) -> bool:
    """Whether ``path`` is on the data plane that a configured API key protects."""
    data = path == "/v2" or path.startswith(DATA_PREFIXES)
    return data and not path.startswith(OPEN_PREFIXES)


def server_timing(stages: Iterable[tuple[str, float]]) -> str:
    """A ``Server-Timing`` header value (W3C Server Timing): ``name;dur=milliseconds``, in order."""
    return ", ".join(f"{name};dur={ms:.3f}" for name, ms in stages)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return value.decode("latin-1")
    return None


class GatewayMiddleware:
    """Wraps the FastAPI app.

    Args:
        app: The inner ASGI app.
        admin_token: The admin bearer token.
        max_body_bytes: Largest accepted body.
        models: The served model names (the only values of the ``model`` label).
        api_key: The data plane's bearer key; ``None`` leaves the data plane open.
        admission: The gateway's admission control, checked from the path before the body is
            read; ``None``: only the routes check it.
    """

    def __init__(self, app: Callable, admin_token: str, max_body_bytes: int,
                 models: Collection[str] = (), api_key: str | None = None,
                 admission: "Admission | None" = None) -> None:
        self.app = app
        self._token = admin_token.encode()
        self._api_key = None if api_key is None else api_key.encode()
        self._max_body = max_body_bytes
        self._models = frozenset(models)
        self._admission = admission
        self._log = logging.getLogger(ACCESS_LOG)

    @staticmethod
    def _authenticate(scope: Scope, secret: bytes, area: str, credential: str) -> None:
        """401 without a bearer credential, 403 when it is not ``secret`` (compared in constant
        time; neither the secret nor what was given ever reaches a message or a log)."""
        given = _header(scope, b"authorization")
        if given is None or not given.startswith("Bearer ") or not given[7:].strip():
            raise UnauthorizedError(f"the {area} needs 'Authorization: Bearer <{credential}>'")
        if not hmac.compare_digest(given[7:].strip().encode(), secret):
            raise ForbiddenError(f"the {credential} is not valid")

    def _check_length(self, scope: Scope) -> None:
        length = _header(scope, b"content-length")
        if length is None:
            return
        digits = length.strip()
        if _DIGITS.fullmatch(digits) is None:
            raise InvalidInputError(f"Content-Length {length[:40]!r} is not a number")
        if len(digits) > 18 or int(digits) > self._max_body:
            raise PayloadTooLargeError(f"the body is {digits[:40]} bytes, more than the "
                                       f"{self._max_body} accepted")

    def _limited(self, receive: Receive) -> Receive:
        """``receive`` that refuses a body growing past the limit (chunked uploads)."""
        seen = 0

        async def receive_limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self._max_body:
                    raise PayloadTooLargeError(f"the body is more than the {self._max_body} bytes "
                                               "accepted")
            return message
        return receive_limited

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        given = _header(scope, REQUEST_ID.lower().encode())
        request_id = given if given is not None and _REQUEST_ID.match(given) else uuid.uuid4().hex
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        answer: dict[str, Any] = {"status": 0, "version": None}

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                answer["status"] = message["status"]
                headers = list(message.get("headers", []))
                headers.append((REQUEST_ID.lower().encode(), request_id.encode()))
                if "server_timing" in state:
                    gateway_ms = (time.perf_counter() - start) * 1e3
                    stages = server_timing((("gateway", gateway_ms), *state["server_timing"]))
                    headers.append((SERVER_TIMING, stages.encode()))
                message = {**message, "headers": headers}
                for key, value in headers:
                    if key.lower() == MODEL_VERSION.lower().encode():
                        answer["version"] = value.decode()
            await send(message)

        try:
            path = scope.get("path", "")
            if path == ADMIN_PREFIX or path.startswith(ADMIN_PREFIX + "/"):
                self._authenticate(scope, self._token, "admin API", "token")
            elif self._api_key is not None and needs_api_key(path):
                self._authenticate(scope, self._api_key, "inference API", "API key")
            self._check_length(scope)
            self._admit(scope, state)
            await self.app(scope, self._limited(receive), send_with_id)
        except Exception as exc:  # the answer of last resort: JSON, from the one table
            if answer["status"]:
                self._log.error("request %s failed after its answer started: %r", request_id, exc)
            else:
                await self._error(send_with_id, exc)
            if status_for(exc) >= 500:
                self._log.exception("request %s failed", request_id)
        finally:
            self._access(scope, state, request_id, answer, start)

    def _admit(self, scope: Scope, state: dict) -> None:
        """Refuse an inference request at once when its model's admission bound is reached."""
        if self._admission is None or scope.get("method") != "POST":
            return
        found = inference_route(scope.get("path", ""))
        if found is not None and found.model in self._models:
            state["early_route"] = found  # the labels of its metrics, since no route will run
            self._admission.check(found.model)

    async def _error(self, send: Send, exc: BaseException) -> None:
        body = error_body(public_message(exc))
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        headers += [(k.lower().encode(), v.encode()) for k, v in error_headers(exc).items()]
        await send({"type": "http.response.start", "status": status_for(exc), "headers": headers})
        await send({"type": "http.response.body", "body": body})

    def _access(self, scope: Scope, state: dict, request_id: str, answer: dict, start: float) -> None:
        elapsed = time.perf_counter() - start
        route = getattr(scope.get("route"), "path", None)
        model = (scope.get("path_params") or {}).get("model")
        early = state.get("early_route")
        if route is None and early is not None:
            route, model = early.route, early.model
        self._log.info(json.dumps({
            "request_id": request_id, "method": scope.get("method"),
            "route": route or scope.get("path"),
            "model": model, "version": answer["version"],
            "status": answer["status"], "latency_ms": round(elapsed * 1000, 3),
            "batch_size": state.get("batch_size")}))
        if scope.get("path") not in UNMEASURED_PATHS:
            self._measure(route, model, answer, elapsed)

    def _measure(self, route: str | None, model: str | None, answer: dict, elapsed: float) -> None:
        """The request metrics, with label values from the served set only (never the request's)."""
        version = answer["version"]
        labels = (model if model in self._models else NONE,
                  version if version is not None and version.isdigit() and len(version) <= 10
                  else NONE, route or NONE)
        code = str(answer["status"])
        m = metrics()
        m.requests.labels(*labels, code).inc()
        if answer["status"] >= 400:
            m.request_errors.labels(*labels, code).inc()
        m.request_duration.labels(*labels).observe(elapsed)

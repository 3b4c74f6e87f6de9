"""Calling an ASGI app with an exact scope (paths and headers as a server would hand them over,
with no client normalizing them), and listing an app's routes."""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import unquote

from fastapi.routing import iter_route_contexts

from tests.services.gateways import Recorder


def call(app: Any, method: str, path: str, headers: dict[str, str] | None = None,
         body: bytes = b"") -> tuple[int, dict[str, str], bytes]:
    """One request through ``app`` for the raw (still percent-encoded) ``path``, which the scope
    carries decoded as uvicorn hands it over; returns status, headers and body."""
    scope = {"type": "http", "method": method, "path": unquote(path),
             "raw_path": path.encode("latin-1"),
             "query_string": b"", "http_version": "1.1", "scheme": "http", "root_path": "",
             "server": ("testserver", 80), "client": ("127.0.0.1", 1),
             "headers": [(k.lower().encode("latin-1"), v.encode("latin-1"))
                         for k, v in {**(headers or {}), "content-length": str(len(body))}.items()]}
    messages: list[dict] = []
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> dict:
        return pending.pop() if pending else {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        messages.append(message)

    asyncio.run(app(scope, receive, send))
    start = messages[0]
    answer = b"".join(m.get("body", b"") for m in messages[1:])
    return (start["status"], {k.decode(): v.decode() for k, v in start.get("headers", [])}, answer)


def error_of(body: bytes) -> str:
    """The ``error`` text of a JSON error body."""
    return json.loads(body)["error"]


def routes(app: Any) -> list[tuple[str, str]]:
    """Every (method, path template) the FastAPI app under ``app`` routes, HEAD left out (routers
    included with a prefix too, with the prefix)."""
    inner = app.app if isinstance(app, Recorder) else app
    return sorted({(method, route.path) for route in iter_route_contexts(inner.routes)
                   if route.path and route.methods for method in route.methods if method != "HEAD"})


def concrete(template: str, model: str = "images", version: str = "1") -> str:
    """A template's path with its parameters filled in."""
    return template.replace("{model}", model).replace("{version}", version)

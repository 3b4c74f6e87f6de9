"""Where the gateway's JSON request lines go when nobody configured logging (a Ray replica).

Ray Serve sets up only its own ``ray.serve`` logger in a replica; the root logger keeps Python's
default level (WARNING) and no handler, so the access lines (INFO) would vanish. The replica calls
:func:`emit_access_lines` once: one handler on the access logger writing each JSON line as it is to
the process's stderr, which Ray captures into the replica's log file.
"""

from __future__ import annotations

import logging
import sys

from services.gateway.middleware import ACCESS_LOG


def emit_access_lines(stream=None) -> logging.Logger:
    """Give the access logger its own INFO handler (idempotent); return the logger."""
    logger = logging.getLogger(ACCESS_LOG)
    if not any(getattr(h, "_zhijian_access", False) for h in logger.handlers):
        handler = logging.StreamHandler(stream or sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        handler._zhijian_access = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return logger

"""The canary traffic policy: a stable hash of a routing key decides canary or production.

``bucket = int.from_bytes(sha256(key)[:8], "big") % 10000``; a request goes to the canary iff
``bucket < percent * 100``. The same key lands in the same bucket in every process (no per-process
hash seed), and raising the percent never moves a key out of the canary.
"""

from __future__ import annotations

import hashlib
import uuid

ROUTE_KEY_HEADER = "X-Zhijian-Route-Key"
"""Header carrying the routing key (a user or session id, say)."""
BUCKETS = 10_000


def bucket(key: str) -> int:
    """The bucket (0-9999) of a routing key."""
    return int.from_bytes(hashlib.sha256(key.encode("utf-8", errors="surrogatepass")).digest()[:8],
                          "big") % BUCKETS


def routing_key(header: str | None, request_id: str | None) -> str:
    """The routing key: the header, else the OIP request ``id``, else a random one."""
    if header:
        return header
    if request_id:
        return request_id
    return uuid.uuid4().hex


def goes_to_canary(key: str, percent: int | None) -> bool:
    """Whether ``key`` is routed to the canary at ``percent`` (0-100; ``None`` means no canary)."""
    if not percent:
        return False
    return bucket(key) < percent * 100

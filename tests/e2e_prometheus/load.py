"""The model, the deployment and the load of the Prometheus end-to-end test.

One tiny image model with four registered versions: v1 in production, v2 as a canary at
:data:`CANARY_PERCENT` and also the shadow (it mirrors every production request: the release path
of a candidate, and what gives the canary controller its agreement check), v3 and v4 without an
alias (v4 served from the host's LRU when a request names it). The load, from threads on 127.0.0.1: good
requests spread over routing keys, requests naming v4, malformed requests (400), requests for a
version that does not exist (404), and bursts above the gateway's admission limit (429). After
it, the shadow alias moves to v3: a release event.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

MODEL = "e2e-prometheus"
CANARY_PERCENT = 30
MAX_IN_FLIGHT = 3
"""The gateway's admission limit per model: the steady load stays under it, the bursts do not."""
STEADY_THREADS = 3
BURST_THREADS = 16

GOOD = json.dumps({"inputs": [{"name": "pixel_values", "datatype": "FP32", "shape": [1, 3, 8, 8],
                               "data": np.linspace(0, 1, 192).tolist()}]}).encode()
BAD_SHAPE = json.dumps({"inputs": [{"name": "pixel_values", "datatype": "FP32",
                                    "shape": [1, 3, 4, 4], "data": [0.5] * 48}]}).encode()


def register(root: Path) -> None:
    """Register v1-v4 of :data:`MODEL` in the current registry and set the aliases."""
    from tests.services.bundles import make_image_bundle
    from zhijian_core.registry import Registry, promote

    registry = Registry()
    for version in range(1, 5):
        registry.register(make_image_bundle(root / f"v{version}", name=MODEL, seed=version), MODEL)
    promote(registry, MODEL, 1, "production", actor="e2e")
    promote(registry, MODEL, 2, "canary", percent=CANARY_PERCENT, actor="e2e")
    promote(registry, MODEL, 2, "shadow", actor="e2e")


MOVED_SHADOW = 3
"""The version the shadow alias moves to after the load (a release event)."""


def move_shadow() -> None:
    """Point the shadow alias at :data:`MOVED_SHADOW` (the gateway picks it up within its poll)."""
    from zhijian_core.registry import Registry, promote

    promote(Registry(), MODEL, MOVED_SHADOW, "shadow", actor="e2e")


LENIENT_CONTROLLER = {"window_s": 10, "interval_s": 1, "min_samples": 5,
                      "max_error_ratio_increase": 1.0, "max_p95_ratio": 1000,
                      "p95_margin_ms": 10000, "max_cost_ratio": 1000}
"""A canary controller that judges the canary every second and always holds (the canary must
stay for the other checks): its decisions and observations are series on the dashboards."""


def serve_args():
    """The application's arguments: small CPU shares, a tight admission limit, LRU of one, a
    lenient canary controller."""
    from services.serve.config import ServeArgs

    return ServeArgs(models=[MODEL], host_num_cpus=0.25, gateway_num_cpus=0.1,
                     host={"lru_size": 1}, canary=LENIENT_CONTROLLER,
                     gateway={"poll_interval_s": 1, "max_in_flight": MAX_IN_FLIGHT,
                              "shadow_percent": 100})


def post(url: str, body: bytes, key: str | None = None) -> int:
    """POST ``body`` to ``url``; the status of the answer."""
    headers = {"Content-Type": "application/json", **({"X-Zhijian-Route-Key": key} if key else {})}
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            answer.read()
            return answer.status
    except urllib.error.HTTPError as exc:
        exc.read()
        return exc.code


ROUND_S = 0.5
"""Each thread's round of the steady load lasts at least this long, so that the load spans
several scrapes whatever the machine's speed: a rate needs two samples that differ, and a load
that ends between two scrapes leaves every rate at zero."""


def steady(base: str, rounds: int) -> Counter[int]:
    """``rounds`` of 12 requests on each of :data:`STEADY_THREADS` threads: per round nine good
    ones with routing keys, one naming v4, one malformed, one naming a missing version; a round
    lasts at least :data:`ROUND_S`."""
    infer = f"{base}/v2/models/{MODEL}/infer"
    codes: Counter[int] = Counter()
    lock = threading.Lock()

    def worker(thread: int) -> None:
        for round_ in range(rounds):
            started = time.monotonic()
            seen = [post(infer, GOOD, key=f"user-{thread}-{round_}-{i}") for i in range(9)]
            seen.append(post(f"{base}/v2/models/{MODEL}/versions/4/infer", GOOD))
            seen.append(post(infer, BAD_SHAPE))
            seen.append(post(f"{base}/v2/models/{MODEL}/versions/99/infer", GOOD))
            with lock:
                codes.update(seen)
            time.sleep(max(0.0, started + ROUND_S - time.monotonic()))

    with ThreadPoolExecutor(STEADY_THREADS) as pool:
        list(pool.map(worker, range(STEADY_THREADS)))
    return codes


def burst(base: str, attempts: int = 10) -> Counter[int]:
    """Bursts of :data:`BURST_THREADS` simultaneous requests until admission control refused
    one (at most ``attempts`` bursts)."""
    infer = f"{base}/v2/models/{MODEL}/infer"
    codes: Counter[int] = Counter()

    def one(start: threading.Barrier, key: str) -> int:
        start.wait(timeout=30)
        return post(infer, GOOD, key=key)

    for attempt in range(attempts):
        start = threading.Barrier(BURST_THREADS)
        keys = [f"burst-{attempt}-{index}" for index in range(BURST_THREADS)]
        with ThreadPoolExecutor(BURST_THREADS) as pool:
            codes.update(pool.map(one, [start] * BURST_THREADS, keys))
        if codes[429]:
            break
    return codes

"""Take the README's screenshot of the built-in dashboard (``docs/images/dashboard.png``).

Starts a local Ray with the Serve application over tiny hand-made bundles (the serving tests'
``tests/services/bundles.py``, in a throwaway ZhiJian home): ``product-images`` with production
v1, a 20% canary v2 and a shadow v3, and ``search-embeddings`` with production v1. It sends steady
load to both for about a minute (one request in fifty malformed, so that the errors chart has
something to show), while headless Chromium (Debian's ``chromium``, driven over the DevTools pipe
as the browser test does) keeps ``/dashboard`` open; then it saves a 1280x900 screenshot.

    .venv/bin/python scripts/dashboard_screenshot.py    # --out PATH, --seconds 60
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import shutil
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the tests' bundles and browser helper

IMAGES, TEXTS = "product-images", "search-embeddings"


def register(home: Path) -> None:
    """The two models, their versions and aliases, in the registry under ``home``."""
    from tests.services.bundles import make_image_bundle, make_text_bundle
    from zhijian_core.registry import Registry, promote

    registry = Registry()
    for version in (1, 2, 3):
        registry.register(make_image_bundle(home / f"{IMAGES}-{version}", name=IMAGES,
                                            seed=version), IMAGES)
    registry.register(make_text_bundle(home / f"{TEXTS}-1", name=TEXTS, seed=1), TEXTS)
    promote(registry, IMAGES, 1, "production", actor="screenshot")
    promote(registry, IMAGES, 2, "canary", percent=20, actor="screenshot")
    promote(registry, IMAGES, 3, "shadow", actor="screenshot")
    promote(registry, TEXTS, 1, "production", actor="screenshot", force=True,
            reason="tiny embedding bundle without test data")


def load(url: str, stop: threading.Event, seed: int) -> None:
    """Requests to both models until ``stop``; one in fifty malformed."""
    rng = random.Random(seed)
    pixels = [rng.random() for _ in range(192)]
    while not stop.is_set():
        if rng.random() < 0.5:
            path = f"/v2/models/{IMAGES}/infer"
            shape = [1, 3, 8, 8] if rng.random() > 0.02 else [1, 3, 8, 9]
            body = {"inputs": [{"name": "pixel_values", "datatype": "FP32", "shape": shape,
                                "data": pixels}]}
        else:
            path = f"/v1/models/{TEXTS}:predict"
            body = {"instances": [rng.choice(["good flight", "the movie was awful", "great"])]}
        request = urllib.request.Request(
            url + path, data=json.dumps(body).encode(), method="POST",
            headers={"Content-Type": "application/json",
                     "X-Zhijian-Route-Key": f"user-{rng.randrange(10**6)}"})
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                answer.read()
        except urllib.error.HTTPError as exc:
            exc.read()
        time.sleep(rng.uniform(0.0, 0.03))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images" / "dashboard.png")
    parser.add_argument("--seconds", type=float, default=60.0, help="load before the screenshot")
    args = parser.parse_args()
    chromium = shutil.which("chromium")
    if chromium is None:
        sys.exit("chromium is missing: apt-get install chromium (scripts/provision.sh does)")
    with tempfile.TemporaryDirectory(prefix="zhijian-screenshot-") as folder:
        home = Path(folder)
        os.environ.update(ZHIJIAN_HOME=str(home), ZHIJIAN_ADMIN_TOKEN=secrets.token_hex(16))
        os.environ.pop("MLFLOW_TRACKING_URI", None)
        register(home)
        import ray
        from ray import serve
        from ray.serve.config import HTTPOptions

        from services.net import free_port
        from services.serve.builder import build_app
        from services.serve.config import ServeArgs
        from tests.services.chromium import Browser

        port = free_port()
        url = f"http://127.0.0.1:{port}"
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
                 logging_level="WARNING", configure_logging=False)
        stop = threading.Event()
        try:
            serve.start(http_options=HTTPOptions(host="127.0.0.1", port=port),
                        logging_config={"enable_access_log": False, "log_level": "WARNING"})
            serve.run(build_app(ServeArgs(models=[IMAGES, TEXTS], host_num_cpus=0.5,
                                          gateway_num_cpus=0.1)),
                      name="zhijian", route_prefix="/")
            workers = [threading.Thread(target=load, args=(url, stop, seed), daemon=True)
                       for seed in range(4)]
            for worker in workers:
                worker.start()
            with Browser(chromium, width=1280, height=900) as browser:
                browser.open(f"{url}/dashboard")
                print(f"dashboard at {url}/dashboard; loading for {args.seconds:g} s", flush=True)
                time.sleep(args.seconds)
                png = browser.screenshot()
                problems = browser.problems()
            if problems:
                sys.exit(f"the page reported problems: {problems}")
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_bytes(png)
            print(f"wrote {args.out} ({len(png)} bytes)")
        finally:
            stop.set()
            serve.shutdown()
            ray.shutdown()


if __name__ == "__main__":
    main()

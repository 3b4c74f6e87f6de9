"""``zhijian serve``: Ray started locally (the embedded default) and the application on it.

No dashboard and no Ray access log (each request is logged once, by the gateway, as JSON); Ray
Serve's HAProxy ingress in front (:mod:`services.serve.ingress`). The admin
token comes from ``$ZHIJIAN_ADMIN_TOKEN``; in explicit local-dev mode one is generated and written
to ``$ZHIJIAN_HOME/admin-token`` (mode 0600) and only its location is printed. Local Ray workers
inherit this process's environment, which is how replicas get the token, the ZhiJian home and the
tracking URI without them appearing in any Ray config.
"""

from __future__ import annotations

import logging
import os
import secrets
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from services.errors import ServiceError
from services.gateway.config import ADMIN_TOKEN_ENV, MIN_TOKEN_LENGTH
from services.serve.config import ServeArgs
from services.serve.ingress import use_haproxy

APP_NAME = "zhijian"
TOKEN_FILE = "admin-token"


@dataclass(frozen=True)
class Started:
    """What ``zhijian serve`` started: the base URL, the models and their aliases, the token file."""

    url: str
    serving: dict[str, dict[str, int]]
    token_file: Path | None


def admin_token(local_dev: bool, home: Path) -> Path | None:
    """Make sure ``$ZHIJIAN_ADMIN_TOKEN`` holds a usable token; return the token file if one was
    generated (local-dev mode only).

    Raises:
        ServiceError: No token (or a short one) outside local-dev mode.
    """
    token = os.environ.get(ADMIN_TOKEN_ENV, "")
    if len(token) >= MIN_TOKEN_LENGTH:
        return None
    if not local_dev:
        raise ServiceError(f"${ADMIN_TOKEN_ENV} is empty or shorter than {MIN_TOKEN_LENGTH} "
                           "characters: the admin API needs a token. Set it, or pass --local-dev "
                           "to have one generated for this machine")
    path = home / TOKEN_FILE
    if path.is_file() and len(path.read_text().strip()) >= MIN_TOKEN_LENGTH:
        token = path.read_text().strip()
    else:
        home.mkdir(parents=True, exist_ok=True)
        token = secrets.token_urlsafe(32)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(token + "\n")
    os.environ[ADMIN_TOKEN_ENV] = token
    return path


def start(args: ServeArgs, host: str, port: int, num_cpus: float | None, local_dev: bool,
          request_timeout_s: float) -> Started:
    """Start Ray locally and run the application on ``host:port``; return once it is ready.

    Raises:
        ServiceError: No admin token, or nothing to serve.
    """
    from zhijian_core.mlflow_store import zhijian_home

    token_file = admin_token(local_dev, zhijian_home())
    import ray
    from ray import serve
    from ray.serve.config import HTTPOptions

    from services.serve.builder import build_app, served_models

    models = served_models(args)
    logging.getLogger("ray.serve").setLevel(logging.WARNING)  # ours are the JSON request lines
    use_haproxy()  # Ray's HAProxy ingress instead of its Python proxy (services/serve/ingress.py)
    ray.init(num_cpus=num_cpus, include_dashboard=False, configure_logging=True,
             logging_level="WARNING", log_to_driver=False)
    serve.start(http_options=HTTPOptions(host=host, port=port, request_timeout_s=request_timeout_s),
                logging_config={"enable_access_log": False, "log_level": "WARNING"})
    serve.run(build_app(args.model_copy(update={"models": models})), name=APP_NAME,
              route_prefix="/", logging_config={"enable_access_log": False})
    from zhijian_core.registry import Registry

    registry = Registry()
    serving = {name: {alias: version for alias, version in registry.aliases(name).items()
                      if alias in ("production", "canary", "shadow")} for name in models}
    return Started(url=f"http://{host}:{port}", serving=serving, token_file=token_file)


def stop() -> None:
    """Shut the application and the local Ray down (nothing to do when Ray never started)."""
    import ray
    from ray import serve

    if ray.is_initialized():
        serve.shutdown()
        ray.shutdown()


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def wait_forever(sleep: Callable[[float], None] = time.sleep) -> None:
    """Block until interrupted: Ctrl-C, or SIGTERM (a process manager's stop) alike."""
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    while True:
        sleep(3600)

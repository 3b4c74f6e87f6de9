"""``zhijian serve``: serve every model with a production alias (and its canary and shadow)."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from zhijian_core.errors import ConfigError, MissingDependencyError


def _args(config: Optional[Path], models: List[str]):
    import yaml
    from pydantic import ValidationError

    from services.serve.config import ServeArgs

    raw = {}
    if config is not None:
        try:
            raw = yaml.safe_load(config.read_text()) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"cannot read the serve arguments {config}: {exc}") from exc
        if not isinstance(raw, dict):
            raise ConfigError(f"{config} must hold a mapping of ServeArgs fields")
    if models:
        raw["models"] = models
    try:
        return ServeArgs.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or '<args>'}: {e['msg']}"
                             for e in exc.errors())
        raise ConfigError(f"invalid serve arguments: {problems}") from exc


def serve(
    host: str = typer.Option("127.0.0.1", help="Address the HTTP endpoint listens on."),
    port: int = typer.Option(8000, help="HTTP port."),
    model: List[str] = typer.Option([], "--model", "-m", help="Serve only these models "
                                    "(default: every model with a production alias)."),
    config: Optional[Path] = typer.Option(None, help="YAML file of application arguments "
                                          "(ServeArgs: batching, CPUs, LRU size, gateway limits)."),
    num_cpus: Optional[float] = typer.Option(None, help="CPUs Ray may use (default: all)."),
    local_dev: bool = typer.Option(False, "--local-dev", help="Generate an admin token when "
                                   "$ZHIJIAN_ADMIN_TOKEN is unset (written to the ZhiJian home)."),
    request_timeout_s: float = typer.Option(60.0, help="Ray's own request timeout, a backstop "
                                            "above the gateway's deadline."),
) -> None:
    """Start Ray locally and serve the registered models over HTTP until Ctrl-C."""
    try:
        from services.errors import ServiceError
        from services.serve import local
    except ImportError as exc:
        raise MissingDependencyError("serving needs the serve extra: pip install 'zhijian[serve,"
                                     f"ort-cpu]' ({exc})") from exc
    args = _args(config, model)
    try:
        started = local.start(args, host, port, num_cpus, local_dev, request_timeout_s)
        for name, aliases in started.serving.items():
            shown = ", ".join(f"{alias} v{version}" for alias, version in sorted(aliases.items()))
            typer.echo(f"serving {name}: {shown}")
        url = started.url
        typer.echo(f"endpoints: {url}/v2 (Open Inference Protocol v2), {url}/v1/models/NAME:predict, "
                   f"{url}/admin/ (bearer token), {url}/docs")
        typer.echo(f"dashboard: {url}/dashboard (live latency, throughput, errors, cost); "
                   f"Prometheus metrics: {url}/metrics")
        if started.token_file is not None:
            typer.echo(f"admin token (generated for local development): {started.token_file}")
        typer.echo("press Ctrl-C to stop")
        local.wait_forever()
    except ServiceError as exc:
        raise ConfigError(str(exc)) from exc
    except KeyboardInterrupt:
        typer.echo("stopping ...")
    finally:
        local.stop()
    typer.echo("stopped")

"""Registry commands: ``zhijian registry register|list|show|resolve|doctor``, ``zhijian promote``,
``zhijian rollback`` and ``zhijian history``. They call the same Python API as the service's admin API.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Optional

import typer

registry_app = typer.Typer(name="registry", no_args_is_help=True,
                           help="Register bundles as model versions, list and inspect them, repair.")


def _registry(name: str | None = None):
    """The registry, after checking ``name`` (cheap, so a bad name fails before MLflow loads)."""
    from zhijian_core.names import check_model_name
    from zhijian_core.registry import Registry

    if name is not None:
        check_model_name(name)
    return Registry()


def _gate_lines(gates) -> list[str]:
    return [f"  {g.status:<7} {g.name:<16} {g.detail}" for g in gates]


@registry_app.command("register")
def register(bundle_dir: Path = typer.Argument(..., help="Bundle folder written by 'zhijian export'."),
             name: str = typer.Option(..., "--name", "-n", help="Model name (a-z, 0-9, '.', '_', '-').")
             ) -> None:
    """Verify a bundle's digests and register it as a new version of model NAME."""
    version = _registry(name).register(bundle_dir, name)
    typer.echo(f"registered {bundle_dir} as '{name}' version {version}")


@registry_app.command("list")
def list_models(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List registered models with their aliases and canary percent."""
    models = _registry().list_models()
    if as_json:
        typer.echo(json.dumps([asdict(m) for m in models], indent=2))
        return
    if not models:
        typer.echo("no registered models")
    for model in models:
        aliases = ", ".join(f"{a} -> v{v}" for a, v in sorted(model.aliases.items())) or "no aliases"
        canary = f" (canary {model.canary_percent}%)" if model.canary_percent is not None else ""
        typer.echo(f"{model.name}: {aliases}{canary}")


@registry_app.command("show")
def show(name: str = typer.Argument(..., help="Model name."),
         as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Show a model's versions with their lineage and evidence tags, aliases and canary percent."""
    info = _registry(name).show(name)
    if as_json:
        typer.echo(json.dumps(asdict(info), indent=2))
        return
    aliases = ", ".join(f"{a} -> v{v}" for a, v in sorted(info.aliases.items())) or "none"
    typer.echo(f"{info.name}  aliases: {aliases}"
               + (f"  canary percent: {info.canary_percent}" if info.canary_percent is not None else ""))
    for v in info.versions:
        tags = v.tags
        typer.echo(f"  v{v.version}  {v.created_at}  {','.join(v.aliases) or '-'}  "
                   f"method {tags.get('zhijian.method', '?')}  ptm {tags.get('zhijian.ptm.spec', '?')}  "
                   f"macro-F1 {tags.get('zhijian.eval.macro_f1', '-')}  "
                   f"parity {tags.get('zhijian.parity.max_abs_diff', '-')}")


@registry_app.command("resolve")
def resolve(name: str = typer.Argument(..., help="Model name."),
            alias_or_version: str = typer.Argument(..., help="An alias (production ...) or a version.")
            ) -> None:
    """Print the version an alias names and its verified local bundle folder."""
    version, path = _registry(name).resolve(name, alias_or_version)
    typer.echo(f"{name} v{version} {path}")


@registry_app.command("doctor")
def doctor(name: Optional[str] = typer.Argument(None, help="One model (default: every model).")) -> None:
    """Reconcile pending promotion records and check aliases, canary percent and bundles."""
    from zhijian_core.registry import doctor as run_doctor

    report = run_doctor(_registry(name), name)
    for record in report.reconciled:
        typer.echo(f"reconciled {record.model} {record.alias} -> v{record.target_version}: {record.state}")
    for problem in report.problems:
        typer.echo(f"problem: {problem}")
    typer.echo(f"checked {len(report.models)} model(s): "
               + ("ok" if report.ok else f"{len(report.problems)} problem(s)"))
    if not report.ok:
        raise typer.Exit(1)


def promote(name: str = typer.Argument(..., help="Model name."),
            version: str = typer.Argument(..., help="Version to promote."),
            to: str = typer.Option(..., "--to", help="Alias: production, canary, shadow or a team alias."),
            percent: Optional[int] = typer.Option(None, "--percent", help="Canary traffic percent (1-100)."),
            force: bool = typer.Option(False, "--force",
                                       help="Promote although gates fail (needs --reason)."),
            reason: str = typer.Option("", "--reason", help="Why; recorded in the audit trail."),
            actor: Optional[str] = typer.Option(None, "--actor", help="Who (default: the OS user).")
            ) -> None:
    """Point alias --to of model NAME at VERSION after its gates pass; audited and crash-safe.

    With ZHIJIAN_ADMIN_URL set, the running service's admin API carries it out (the single writer).
    """
    from zhijian_core.names import check_alias, check_model_name, check_version
    from zhijian_core.registry import promote as run_promote
    from zhijian_core.registry.admin_client import configured_client

    check_model_name(name)
    check_alias(to)
    number = check_version(version)
    client = configured_client()
    if client is not None:
        decision = client.promote(name, number, to, percent=percent, force=force, reason=reason)
    else:
        decision = run_promote(_registry(name), name, version, to, percent=percent, force=force,
                               reason=reason, actor=actor)
    prior = f"v{decision.prior_version}" if decision.prior_version else "unset"
    typer.echo(f"{decision.model}: {decision.alias} -> v{decision.version} (was {prior})"
               + (" FORCED" if decision.forced else ""))
    typer.echo("\n".join(_gate_lines(decision.gates)))


def rollback(name: str = typer.Argument(..., help="Model name."),
             reason: str = typer.Option("", "--reason", help="Why; recorded in the audit trail."),
             actor: Optional[str] = typer.Option(None, "--actor", help="Who (default: the OS user).")
             ) -> None:
    """Return production to the version it had before the current one; audited.

    With ZHIJIAN_ADMIN_URL set, the running service's admin API carries it out (the single writer).
    """
    from zhijian_core.names import check_model_name
    from zhijian_core.registry import rollback as run_rollback
    from zhijian_core.registry.admin_client import configured_client

    check_model_name(name)
    client = configured_client()
    if client is not None:
        decision = client.rollback(name, reason=reason)
    else:
        decision = run_rollback(_registry(name), name, actor=actor, reason=reason)
    typer.echo(f"{decision.model}: production -> v{decision.version} (was v{decision.prior_version})")


def history(name: str = typer.Argument(..., help="Model name."),
            as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Print the audit trail of promotions, rollbacks and canary aborts of model NAME, oldest
    first (a canary abort with the failed checks it recorded as evidence)."""
    from zhijian_core.registry import history as read_history

    records = read_history(_registry(name), name)
    if as_json:
        typer.echo(json.dumps([r.model_dump(mode="json") for r in records], indent=2))
        return
    if not records:
        typer.echo(f"no promotion recorded for '{name}'")
    for r in records:
        prior = f"v{r.prior_version}" if r.prior_version else "unset"
        if r.target_version is None:
            target = "unset 0%"
        else:
            target = f"v{r.target_version}" + (f" {r.canary_percent}%" if r.canary_percent is not None
                                               else "")
        typer.echo(f"{r.time}  {r.state:<9} {r.kind:<8} {r.alias} -> {target} "
                   f"(was {prior})  by {r.actor}" + ("  FORCED" if r.forced else "")
                   + (f"  reason: {r.reason}" if r.reason else ""))
        if r.kind == "canary_abort":
            typer.echo("\n".join(_gate_lines([g for g in r.gates if g.status == "failed"])))

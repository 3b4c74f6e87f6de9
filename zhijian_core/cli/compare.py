"""``zhijian compare``: several reuse methods on one PTM and dataset, with a leaderboard."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer
import yaml

from zhijian_core.errors import ConfigError


def _parse_params(params: list[str], methods: list[str]) -> dict[str, dict[str, dict[str, Any]]]:
    """``label.key=value`` → ``{label: {"config"|"train"|"data": {key: value}}}``."""
    out: dict[str, dict[str, dict[str, Any]]] = {m: {"config": {}, "train": {}, "data": {}}
                                                 for m in methods}
    for item in params:
        target, sep, raw = item.partition("=")
        parts = target.split(".")
        if not sep or len(parts) not in (2, 3) or parts[0] not in out:
            raise ConfigError(f"--param '{item}' must be METHOD.KEY=VALUE or "
                              f"METHOD.train.KEY=VALUE / METHOD.data.KEY=VALUE, with METHOD one of "
                              f"the --method names ({', '.join(methods) or 'none given'})")
        if len(parts) == 3 and parts[1] not in ("train", "data"):
            raise ConfigError(f"--param '{item}': the middle part must be 'train' or 'data'")
        section, key = (parts[1], parts[2]) if len(parts) == 3 else ("config", parts[1])
        out[parts[0]][section][key] = yaml.safe_load(raw)
    return out


def compare(
    recipe: Optional[Path] = typer.Option(None, "--recipe", "-r", help="YAML recipe (recipes/*.yaml)."),
    ptm: Optional[str] = typer.Option(None, help="PTM spec (overrides the recipe's)."),
    dataset: Optional[str] = typer.Option(None, help="Named dataset or path (overrides the recipe's)."),
    method: list[str] = typer.Option([], "--method", "-m", help="Method to run (repeatable); replaces the recipe's list."),
    param: list[str] = typer.Option([], "--param", "-p", help="METHOD.KEY=VALUE, METHOD.train.KEY=VALUE or METHOD.data.KEY=VALUE."),
    seeds: Optional[int] = typer.Option(None, help="Run seeds 0..N-1; figures become mean ± std."),
    train_size: Optional[int] = typer.Option(None, help="Training examples drawn from the pool."),
    shots: Optional[int] = typer.Option(None, help="Few-shot: K training examples per class."),
    val_size: Optional[int] = typer.Option(None, help="Validation examples (model selection)."),
    test_size: Optional[int] = typer.Option(None, help="Test examples (reported once)."),
    max_length: Optional[int] = typer.Option(None, help="Maximum tokens per text."),
    image_size: Optional[int] = typer.Option(None, help="Square image side fed to the model."),
    baseline: Optional[bool] = typer.Option(None, "--baseline/--no-baseline", help="Run the non-PTM baseline too (default on)."),
    device: Optional[str] = typer.Option(None, help="auto, cpu or cuda[:i]."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Folder for leaderboard.json/.md/.png."),
    store: bool = typer.Option(True, "--store/--no-store", help="Store every run in MLflow."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars."),
    ray_address: Optional[str] = typer.Option(None, "--ray-address", help="Run each (method, seed) trial as a Ray task on this cluster ('auto': the local one); in-process without it."),
    cpus_per_trial: Optional[float] = typer.Option(None, "--cpus-per-trial", help="CPUs of each Ray trial (default 1; needs --ray-address)."),
    gpus_per_trial: Optional[float] = typer.Option(None, "--gpus-per-trial", help="GPUs of each Ray trial (default 0; needs --ray-address)."),
) -> None:
    """Run several reuse methods on one PTM and dataset; write and print the leaderboard."""
    from zhijian_core.experiment.config import load_recipe, parse_experiment

    base: dict[str, Any] = load_recipe(recipe).model_dump(mode="json") if recipe else {"data": {}}
    if method:
        grouped = _parse_params(param, method)
        base["methods"] = [{"method": m, **grouped[m]} for m in method]
    elif param:
        labels = [spec.get("label") or spec["method"] for spec in base.get("methods", [])]
        grouped = _parse_params(param, labels)
        base["methods"] = [{**spec, **{k: {**spec.get(k, {}), **grouped[label][k]}
                                       for k in ("config", "train", "data")}}
                           for spec, label in zip(base["methods"], labels)]
    top = {"ptm": ptm, "device": device, "baseline": baseline}
    base.update({k: v for k, v in top.items() if v is not None})
    if seeds is not None:
        base["seeds"] = list(range(seeds))
    data = {"dataset": dataset, "train_size": train_size, "shots": shots, "val_size": val_size,
            "test_size": test_size}
    base["data"] = {**base.get("data", {}), **{k: v for k, v in data.items() if v is not None}}
    if shots is not None:
        base["data"]["train_size"] = None
    pre = {"max_length": max_length, "image_size": image_size}
    base["preprocess"] = {**base.get("preprocess", {}), **{k: v for k, v in pre.items() if v is not None}}
    config = parse_experiment(base, str(recipe) if recipe else "from the command line")
    _run(config, out, store, quiet, _ray_options(ray_address, cpus_per_trial, gpus_per_trial))


def _ray_options(address: Optional[str], cpus: Optional[float], gpus: Optional[float]):
    """The Ray settings of the command line (``None``: run trials in-process)."""
    from zhijian_core.experiment.ray_trials import RayOptions

    if address is None:
        if cpus is not None or gpus is not None:
            raise ConfigError("--cpus-per-trial and --gpus-per-trial need --ray-address")
        return None
    return RayOptions(address, 1.0 if cpus is None else cpus, 0.0 if gpus is None else gpus)


def _run(config, out: Optional[Path], store: bool, quiet: bool, ray=None) -> None:
    from zhijian_core.compare.leaderboard import render_text, write_leaderboard
    from zhijian_core.experiment.runner import default_out_dir, run_experiment
    from zhijian_core.experiment.session import Session, resolve_device
    from zhijian_core.progress import set_progress_enabled
    from zhijian_core.runs.store import RunStore

    set_progress_enabled(not quiet)
    run_store = RunStore(config.name) if store else None
    session = Session(config, run_store, resolve_device(config.device))

    def report(result) -> None:
        typer.echo(f"  {result.display:<24} seed {result.seed}  macro-F1 {result.quality.macro_f1:.3f}"
                   f"  acc {result.quality.accuracy:.3f}  train {result.cost.train_seconds:6.1f}s"
                   f"  latency {result.cost.latency_ms_b1:6.2f} ms", err=True)

    typer.echo(f"comparing {len(config.methods)} methods on {config.ptm} / {config.data.dataset} "
               f"over seeds {config.seeds}", err=True)
    failures: dict[str, str] = {}
    if ray is None:
        results = run_experiment(config, session, on_result=report)
    else:
        from zhijian_core.experiment.ray_trials import TrialsFailedError, run_experiment_on_ray

        typer.echo(f"trials run as Ray tasks on '{ray.address}' ({ray.cpus_per_trial:g} CPU, "
                   f"{ray.gpus_per_trial:g} GPU each)", err=True)
        outcome = run_experiment_on_ray(
            config, run_store, ray, on_result=report,
            on_failure=lambda name, error: typer.echo(f"  {name:<24} FAILED: {error}", err=True))
        results, failures = outcome.results, outcome.failures
        if not results:
            raise TrialsFailedError(_failed(failures))
    out_dir = out or default_out_dir(config)
    board = write_leaderboard(results, out_dir, title=f"{config.name}: {config.ptm} on {config.data.dataset}")
    typer.echo(render_text(board))
    typer.echo(f"wrote {out_dir}/leaderboard.json, leaderboard.md, leaderboard.png")
    if run_store is not None:
        typer.echo(f"runs stored in MLflow at {run_store.tracking_uri}")
    if failures:
        raise TrialsFailedError(_failed(failures))


def _failed(failures: dict[str, str]) -> str:
    return f"{len(failures)} trial(s) failed: " + "; ".join(f"{name}: {error}"
                                                          for name, error in failures.items())

"""``zhijian export``: a stored run, a PTM served as is, or a training-free method to a bundle."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from zhijian_core.errors import ConfigError


def _data_config(dataset: Optional[str], train_size: Optional[int], shots: Optional[int],
                 val_size: Optional[int], test_size: Optional[int], seed: int):
    from pydantic import ValidationError

    from zhijian_core.data.config import DataConfig

    if dataset is None:
        if any(v is not None for v in (train_size, shots, val_size, test_size)):
            raise ConfigError("--train-size, --shots, --val-size and --test-size need --dataset")
        return None
    given = {"dataset": dataset, "train_size": train_size, "shots": shots, "val_size": val_size,
             "test_size": test_size, "seed": seed}
    try:
        return DataConfig.model_validate({k: v for k, v in given.items() if v is not None})
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"invalid data options: {problems}") from exc


def _optimize_config(optimize: Optional[str], max_quality_loss: float, force: bool):
    from pydantic import ValidationError

    from zhijian_core.export.optimize import OptimizeConfig

    kinds = tuple(k.strip() for k in (optimize or "").split(",") if k.strip())
    try:
        return OptimizeConfig(optimizations=kinds, max_quality_loss=max_quality_loss, force=force)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"invalid optimization options: {problems}") from exc


def export(
    name: str = typer.Option(..., "--name", "-n", help="Model name (registry name of the bundle)."),
    out: Path = typer.Option(..., "--out", "-o", help="Bundle folder to create (must not exist)."),
    run: Optional[str] = typer.Option(None, "--run", help="Stored finished run (MLflow run id)."),
    ptm: Optional[str] = typer.Option(None, "--ptm", help="PTM spec: served as is (embedding), or "
                                      "the source of --method."),
    method: Optional[str] = typer.Option(None, "--method", "-m",
                                         help="Training-free method to fit and export (ncm)."),
    dataset: Optional[str] = typer.Option(None, help="Named dataset or path (evaluation data)."),
    train_size: Optional[int] = typer.Option(None, help="Training examples drawn from the pool."),
    shots: Optional[int] = typer.Option(None, help="Few-shot: K training examples per class."),
    val_size: Optional[int] = typer.Option(None, help="Validation examples (parity inputs)."),
    test_size: Optional[int] = typer.Option(None, help="Test examples (the bundle's evaluation)."),
    seed: int = typer.Option(0, help="Seed of the split."),
    max_length: Optional[int] = typer.Option(None, help="Maximum tokens per text (--method)."),
    image_size: Optional[int] = typer.Option(None, help="Square image side (--method)."),
    tolerance: float = typer.Option(1e-4, help="Largest accepted ONNX-vs-PyTorch max abs difference."),
    optimize: Optional[str] = typer.Option(
        None, help="Optimizations to try, comma-separated: graph, int8, fp16. Each is measured and "
        "kept only when it is faster and loses at most --max-quality-loss."),
    max_quality_loss: float = typer.Option(1.0, help="Largest accepted macro-F1 loss, in points."),
    force_optimizations: bool = typer.Option(False, help="Keep every optimization that runs, "
                                             "whatever it measures (recorded as forced)."),
) -> None:
    """Write a verified ONNX bundle: from --run, from --ptm (embedding), or --method with --ptm."""
    from zhijian_core.export.bundle_writer import write_model_bundle
    from zhijian_core.export.sources import from_method, from_ptm, from_run
    from zhijian_core.names import check_model_name

    check_model_name(name)
    optimize_config = _optimize_config(optimize, max_quality_loss, force_optimizations)
    data = _data_config(dataset, train_size, shots, val_size, test_size, seed)
    if run is not None:
        if ptm or method or data:
            raise ConfigError("--run exports a stored run as it is; drop --ptm, --method and the "
                              "data options (the run's own data is used)")
        source = from_run(run)
    elif method is not None:
        if ptm is None or data is None:
            raise ConfigError(f"--method {method} needs --ptm and --dataset to fit on")
        source = from_method(method, ptm, data, max_length, image_size)
    elif ptm is not None:
        if max_length is not None or image_size is not None:
            raise ConfigError("--max-length and --image-size apply to --method only")
        source = from_ptm(ptm, data)
    else:
        raise ConfigError("give --run RUN_ID, --ptm SPEC (embedding bundle), or --method M --ptm SPEC "
                          "--dataset D")
    manifest = write_model_bundle(source, name, out, tolerance, optimize_config)
    evidence = manifest.evidence
    typer.echo(f"wrote {out} ({manifest.task.kind}; parity max abs diff "
               f"{evidence.parity.max_abs_diff:.2e} <= {evidence.parity.tolerance:.0e})")
    if evidence.evaluation is not None:
        typer.echo(f"own evaluation on {evidence.evaluation.examples} test examples: accuracy "
                   f"{evidence.evaluation.accuracy:.4f}, macro-F1 {evidence.evaluation.macro_f1:.4f}")
    else:
        typer.echo(f"no evaluation: {evidence.evaluation_skipped}")
    for record in evidence.optimizations:
        typer.echo(f"optimization {record.kind}: {'kept' if record.applied else 'refused'} "
                   f"({record.reason})")
    if evidence.latency_ms_b1 is not None and evidence.latency_ms_b32 is not None:
        typer.echo(f"ONNX Runtime latency: {evidence.latency_ms_b1:.2f} ms at batch 1, "
                   f"{evidence.latency_ms_b32:.2f} ms at batch 32")

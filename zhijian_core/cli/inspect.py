"""Commands that describe what is available: methods, a PTM, a dataset, the environment."""

from __future__ import annotations

import json
from enum import Enum

import typer


class Format(str, Enum):
    """Output formats of listings."""

    table = "table"
    markdown = "markdown"
    json = "json"


def methods(format: Format = typer.Option(Format.table, "--format", "-f",
                                         help="table, markdown or json.")) -> None:
    """List every registered reuse method with its family, paper and the backbones it applies to."""
    from zhijian_core.methods.catalog import method_rows, render_markdown, render_table

    rows = method_rows()
    if format is Format.json:
        typer.echo(json.dumps(rows, indent=2))
    elif format is Format.markdown:
        typer.echo(render_markdown(rows))
    else:
        typer.echo(render_table(rows))


def ptm_info(spec: str = typer.Argument(..., help="PTM spec: minilm-l6, timm:<name>, hf:<dir> ...")
             ) -> None:
    """Load a PTM and print its identity, digest, licence, size and preprocessing."""
    from zhijian_core.ptm.backbone import trainable_parameter_count
    from zhijian_core.ptm.load import load_ptm

    ptm = load_ptm(spec)
    _, total = trainable_parameter_count(ptm.backbone)
    info = {"spec": ptm.spec, "identity": ptm.identity, "kind": ptm.backbone.kind,
            "feature_dim": ptm.backbone.feature_dim, "parameters": total,
            "blocks": len(ptm.backbone.block_groups()), "digest": ptm.digest,
            "licence": ptm.licence, "preprocess": ptm.preprocess.model_dump(mode="json")}
    typer.echo(json.dumps(info, indent=2))


def data_info(dataset: str = typer.Argument(..., help="Named dataset or path (csv, jsonl, folder, idx)."),
              text_column: str = typer.Option("text", help="Text column of CSV/JSONL files."),
              label_column: str = typer.Option("label", help="Label column of CSV/JSONL files.")
              ) -> None:
    """Load a dataset and print its size, classes and fingerprint."""
    from collections import Counter

    from zhijian_core.data import load_dataset
    from zhijian_core.data.config import DataConfig

    ds = load_dataset(DataConfig(dataset=dataset, text_column=text_column,
                                 label_column=label_column))
    counts = Counter(int(y) for y in ds.labels)
    info = {"dataset": dataset, "modality": ds.modality, "examples": len(ds),
            "classes": {name: counts.get(i, 0) for i, name in enumerate(ds.label_names)},
            "fingerprint": ds.fingerprint()}
    typer.echo(json.dumps(info, indent=2))


def doctor() -> None:
    """Check the environment: exactly one ONNX Runtime, and which optional parts are installed."""
    from importlib.util import find_spec

    from services.environment import (ORT_DISTRIBUTIONS, check_single_onnxruntime,
                                      installed_distributions)
    from services.errors import EnvironmentConflictError

    for name in ("torch", "timm", "transformers", "peft", "mlflow", "ray", "onnx"):
        typer.echo(f"{name:>13}: {'installed' if find_spec(name) else 'missing'}")
    found = installed_distributions(ORT_DISTRIBUTIONS)
    typer.echo(f"{'onnxruntime':>13}: {', '.join(found) or 'missing'}")
    try:
        check_single_onnxruntime()
    except EnvironmentConflictError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo("ok")


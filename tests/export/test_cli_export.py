"""``zhijian export``: from a stored run, a PTM served as is, or NCM fitted on the spot."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from zhijian_core.bundle.io import verify_bundle


def zhijian(*args: str, env: dict[str, str] | None = None,
            cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "zhijian_core.cli.main", "export", *args],
                          capture_output=True, text=True, timeout=240, cwd=cwd,
                          env={**os.environ, "COLUMNS": "200", **(env or {})})


def test_export_a_stored_run(stored_runs, tmp_path: Path) -> None:
    store, results = stored_runs("text")
    out = tmp_path / "lora"
    done = zhijian("--run", results["lora"].run_id, "--name", "tiny-lora", "--out", str(out),
                   env={"MLFLOW_TRACKING_URI": store.tracking_uri})
    assert done.returncode == 0, done.stderr
    assert "own evaluation on 30 test examples" in done.stdout
    manifest = verify_bundle(out)
    assert manifest.lineage.run_id == results["lora"].run_id
    assert manifest.evidence.evaluation.accuracy == pytest.approx(
        results["lora"].quality.accuracy, abs=1 / 30 + 1e-9)


def test_export_ncm_fitted_on_the_spot_and_a_ptm_as_embeddings(task_data: dict,
                                                                tmp_path: Path) -> None:
    dataset, ptm, _ = task_data["text"]
    sizes = ["--dataset", dataset, "--train-size", "40", "--val-size", "20", "--test-size", "30"]
    done = zhijian("--method", "ncm", "--ptm", ptm, *sizes, "--max-length", "16",
                   "--name", "tiny-ncm", "--out", str(tmp_path / "ncm"))
    assert done.returncode == 0, done.stderr
    manifest = verify_bundle(tmp_path / "ncm")
    assert manifest.task.labels == ["negative", "positive"]
    assert manifest.evidence.evaluation.accuracy >= 0.7

    done = zhijian("--ptm", ptm, *sizes, "--name", "tiny-embed", "--out", str(tmp_path / "embed"))
    assert done.returncode == 0, done.stderr
    manifest = verify_bundle(tmp_path / "embed")
    assert manifest.task.kind == "embedding" and manifest.task.dimension == 32
    assert manifest.evidence.evaluation.examples == 30  # nearest class mean over its vectors
    assert manifest.lineage.dataset.fingerprint == manifest.evidence.evaluation.dataset_fingerprint


@pytest.mark.parametrize(("args", "message"), [
    (["--name", "x", "--out", "o"], "give --run RUN_ID, --ptm SPEC"),
    (["--ptm", "timm:test_vit", "--name", "Bad Name", "--out", "o"], "'Bad Name' is invalid"),
    (["--method", "linear_probe", "--ptm", "timm:test_vit", "--dataset", "d", "--name", "x",
      "--out", "o"], "'linear_probe' trains"),
    (["--run", "abc", "--ptm", "timm:test_vit", "--name", "x", "--out", "o"], "drop --ptm"),
    (["--ptm", "timm:test_vit", "--name", "x", "--out", "o", "--optimize", "graph,int4"],
     "invalid optimization options"),
])
def test_bad_export_options_end_in_one_line(args: list[str], message: str, tmp_path: Path) -> None:
    done = zhijian(*args, cwd=tmp_path)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], done.stderr
    assert not (tmp_path / "o").exists()

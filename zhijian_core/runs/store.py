"""Finished runs stored as MLflow artifacts, without pickle.

A run keeps: its finalized weights as safetensors, the JSON architecture config that rebuilds the
module (a random-init PTM skeleton plus a head), the preprocessing spec and its assets (tokenizer
file), the label names, and its result (quality, cost, configs, data fingerprint) as JSON; headline
metrics and parameters are logged too, for MLflow's own UI. The embedded default is a SQLite store
under ``$ZHIJIAN_HOME`` (``./.zhijian``); ``MLFLOW_TRACKING_URI`` is honoured when set.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from pydantic import TypeAdapter
from torch import nn

from zhijian_core.errors import RunStoreError
from zhijian_core.mlflow_store import import_mlflow, store_location
from zhijian_core.model import ArchitectureConfig
from zhijian_core.preprocess.spec import PreprocessSpec
from zhijian_core.train.result import RunResult

_SPEC = TypeAdapter(PreprocessSpec)
ARTIFACT_DIR = "model"
WEIGHTS = "weights.safetensors"


@dataclass
class StoredModel:
    """A rebuilt finalized model with what is needed to feed it."""

    module: nn.Module
    architecture: ArchitectureConfig
    preprocess: object
    assets_dir: Path | None
    label_names: tuple[str, ...]
    result: RunResult


class RunStore:
    """Writes and reads runs of one MLflow experiment."""

    def __init__(self, experiment: str = "zhijian", tracking_uri: str | None = None) -> None:
        self._mlflow = import_mlflow("storing runs")
        location = store_location(tracking_uri)
        uri, artifact_location = location.tracking_uri, location.artifact_location
        self.tracking_uri = uri
        self.client = self._mlflow.MlflowClient(tracking_uri=uri)
        try:
            found = self.client.get_experiment_by_name(experiment)
            self.experiment_id = (found.experiment_id if found is not None else
                                  self.client.create_experiment(experiment, artifact_location))
        except Exception as exc:  # MLflow raises many types for an unreachable or broken store
            raise RunStoreError(f"cannot open the MLflow store at {uri}: {exc}") from exc

    def save(self, result: RunResult, module: nn.Module, architecture: ArchitectureConfig,
             preprocess: object, assets_dir: Path | None, label_names: tuple[str, ...]) -> str:
        """Store a finished run; return its run id."""
        from safetensors.torch import save_model

        run = self.client.create_run(self.experiment_id, run_name=f"{result.display}-seed{result.seed}",
                                     tags={"zhijian.method": result.method,
                                           "zhijian.family": result.family})
        run_id = run.info.run_id
        try:
            with tempfile.TemporaryDirectory() as tmp:
                folder = Path(tmp) / ARTIFACT_DIR
                folder.mkdir()
                save_model(module, str(folder / WEIGHTS))
                (folder / "architecture.json").write_text(architecture.model_dump_json(indent=2))
                (folder / "preprocess.json").write_text(_SPEC.dump_json(preprocess, indent=2).decode())
                (folder / "labels.json").write_text(json.dumps(list(label_names)))
                tokenizer_file = getattr(preprocess, "tokenizer_file", None)
                if tokenizer_file and assets_dir is not None:
                    shutil.copy2(Path(assets_dir) / tokenizer_file, folder / tokenizer_file)
                stored = result.model_copy(update={"run_id": run_id})
                (folder / "result.json").write_text(stored.model_dump_json(indent=2))
                self.client.log_artifacts(run_id, str(folder), ARTIFACT_DIR)
            from mlflow.entities import Metric, Param

            now = int(time.time() * 1000)
            metrics = {"test_macro_f1": result.quality.macro_f1,
                       "test_accuracy": result.quality.accuracy,
                       "latency_ms_b1": result.cost.latency_ms_b1,
                       "throughput_b32": result.cost.throughput_b32,
                       "train_seconds": result.cost.train_seconds,
                       "trainable_params": float(result.cost.trainable_params)}
            params = {"method": result.method, "ptm": result.ptm, "seed": result.seed,
                      "dataset": result.dataset, "data_fingerprint": result.data_fingerprint}
            self.client.log_batch(
                run_id, metrics=[Metric(k, float(v), now, 0) for k, v in metrics.items()],
                params=[Param(k, str(v)) for k, v in params.items()])
            self.client.set_terminated(run_id, "FINISHED")
        except Exception as exc:
            self.client.set_terminated(run_id, "FAILED")
            raise RunStoreError(f"could not store run {run_id}: {exc}") from exc
        return run_id

    def load(self, run_id: str) -> StoredModel:
        """Rebuild the finalized module of run ``run_id`` (weights loaded strictly)."""
        from safetensors.torch import load_model

        from zhijian_core.methods.rebuild import read_architecture, rebuild_module
        from zhijian_core.ptm.load import load_ptm

        try:
            local = Path(self._mlflow.artifacts.download_artifacts(
                run_id=run_id, artifact_path=ARTIFACT_DIR, tracking_uri=self.tracking_uri))
        except Exception as exc:
            raise RunStoreError(f"run '{run_id}' has no stored model in {self.tracking_uri}: "
                                f"{exc}") from exc
        architecture = read_architecture((local / "architecture.json").read_text())
        preprocess = _SPEC.validate_json((local / "preprocess.json").read_text())
        label_names = tuple(json.loads((local / "labels.json").read_text()))
        result = RunResult.model_validate_json((local / "result.json").read_text())
        module = rebuild_module(architecture, lambda spec: load_ptm(spec, pretrained=False).backbone)
        missing, unexpected = load_model(module, str(local / WEIGHTS), strict=True)
        if missing or unexpected:
            raise RunStoreError(f"run '{run_id}': weights do not match the architecture "
                                f"(missing {missing}, unexpected {unexpected})")
        module.eval()
        assets = local if getattr(preprocess, "tokenizer_file", None) else None
        return StoredModel(module, architecture, preprocess, assets, label_names, result)

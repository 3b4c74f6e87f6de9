"""Run reuse methods under the one protocol and collect their quality and cost.

For each seed and method: split the data (seeded), build the target, fit it (gradient training on
the train split with model selection on validation, or a closed-form fit), finalize it to one
plain module, evaluate that module once on the test split, measure its serving cost, store it.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from zhijian_core.data.config import DataConfig
from zhijian_core.data.dataset import Splits
from zhijian_core.errors import ConfigError, NotApplicableError
from zhijian_core.experiment.config import ExperimentConfig, RunSpec
from zhijian_core.experiment.session import Session
from zhijian_core.methods.registry import create_method
from zhijian_core.model import ArchitectureConfig
from zhijian_core.ptm.backbone import trainable_parameter_count
from zhijian_core.ptm.loaded import LoadedPTM
from zhijian_core.runs.store import RunStore
from zhijian_core.train.config import TrainConfig
from zhijian_core.train.evaluate import measure_latency, predict_logits
from zhijian_core.train.memory import PeakMemory
from zhijian_core.train.metrics import quality_from_predictions
from zhijian_core.train.result import Cost, RunResult
from zhijian_core.train.tensors import TensorSet
from zhijian_core.train.trainer import fit

LATENCY_REPEATS = 30
THROUGHPUT_REPEATS = 5


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def data_config(config: ExperimentConfig, spec: RunSpec | None, seed: int) -> DataConfig:
    """The experiment's data config with the run's overrides and seed."""
    merged = {**config.data.model_dump(), **(spec.data if spec else {}), "seed": seed}
    try:
        return DataConfig.model_validate(merged)
    except Exception as exc:
        raise ConfigError(f"invalid data override for run '{spec.display if spec else ''}': "
                          f"{exc}") from exc


def train_config(defaults: dict, overrides: dict, label: str) -> TrainConfig:
    """The method's training defaults with the recipe's overrides, validated."""
    try:
        return TrainConfig.model_validate({**defaults, **overrides})
    except Exception as exc:
        raise ConfigError(f"invalid train settings for run '{label}': {exc}") from exc


def inference_parameter_count(model: torch.nn.Module) -> int:
    """Parameters a finalized classifier computes with: a PTM's own source classifier (kept on the
    backbone for methods that use it in training, such as an ImageNet head) is not counted."""
    total = sum(p.numel() for p in model.parameters())
    backbone = getattr(model, "backbone", None)
    source = backbone.source_classifier() if backbone is not None else None
    return total - (sum(p.numel() for p in source.parameters()) if source is not None else 0)


@dataclass
class FinishedRun:
    """A run's result with its finalized module and what a run store needs to keep it."""

    result: RunResult
    module: torch.nn.Module
    architecture: ArchitectureConfig
    target: LoadedPTM
    label_names: tuple[str, ...]


def run_method(spec: RunSpec, seed: int, session: Session) -> RunResult:
    """Run one method for one seed; store and return its result."""
    return store_run(session.store, execute_run(spec, seed, session))


def store_run(store: RunStore | None, run: FinishedRun) -> RunResult:
    """Store ``run`` (when a store is open); return its result with the run id."""
    if store is None:
        return run.result
    run_id = store.save(run.result, run.module, run.architecture, run.target.preprocess,
                        run.target.assets_dir, run.label_names)
    return run.result.model_copy(update={"run_id": run_id})


def execute_run(spec: RunSpec, seed: int, session: Session) -> FinishedRun:
    """Run one method for one seed without storing it (see :func:`run_method`)."""
    config = session.config
    run_data = data_config(config, spec, seed)
    splits = session.splits(run_data)
    method = create_method(spec.method, spec.config)
    method.check_applicable(session.ptm(spec.ptm or config.ptm))
    ctx = session.context(splits, seed, spec.ptm, run_data)
    device = session.device
    train_cfg = train_config(dict(method.default_train), spec.train, spec.display)
    session.begin_run()
    seed_everything(seed)
    epoch_seconds = None
    val_set = None
    with PeakMemory(device) as memory:
        start = time.perf_counter()
        model = method.build(ctx).to(device)
        target = method.target_ptm(ctx)
        data = method.training_data(ctx)
        method.prepare(model, ctx)
        trainable, _ = trainable_parameter_count(model)
        if method.trains:
            if method.frozen_backbone:
                train_set = TensorSet({"features": method.frozen_features(ctx, data)},
                                      torch.as_tensor(data.labels, dtype=torch.long))
                val_set = TensorSet({"features": method.frozen_features(ctx, splits.val)},
                                    torch.as_tensor(splits.val.labels, dtype=torch.long))
            else:
                train_set = session.tensors(target, data)
                val_set = session.tensors(target, splits.val)
            report = fit(method, model, train_set, val_set, splits.train.label_names, train_cfg,
                         device, seed)
            epoch_seconds = float(np.median(report.epoch_seconds))
        else:
            trainable = 0
        train_seconds = time.perf_counter() - start + session.cached_feature_seconds
    final = method.finalize(model)
    test_set = session.tensors(target, splits.test)
    names = splits.train.label_names
    logits = predict_logits(final, test_set, train_cfg.eval_batch_size, device)
    quality = quality_from_predictions(test_set.labels.numpy(), logits.argmax(-1).numpy(), names)
    val_logits = predict_logits(final, session.tensors(target, splits.val),
                                train_cfg.eval_batch_size, device)
    val_quality = quality_from_predictions(splits.val.labels, val_logits.argmax(-1).numpy(), names)
    latency = measure_latency(final, test_set, 1, device, LATENCY_REPEATS)
    batch_seconds = measure_latency(final, test_set, 32, device, THROUGHPUT_REPEATS)
    cost = Cost(trainable_params=trainable, total_params=inference_parameter_count(final),
                train_seconds=train_seconds, epoch_seconds=epoch_seconds,
                peak_memory_mb=memory.peak_mb, latency_ms_b1=latency * 1000,
                throughput_b32=min(32, len(test_set)) / batch_seconds)
    result = RunResult(method=method.name, family=method.family.value, ptm=target.spec,
                       dataset=run_data.dataset, seed=seed, data_fingerprint=splits.fingerprint,
                       quality=quality, val_quality=val_quality, cost=cost,
                       config=method.config.model_dump(mode="json"),
                       train_config=train_cfg.model_dump(mode="json") if method.trains else None,
                       label=spec.label, data_config=run_data.model_dump(mode="json"),
                       ptm_digest=target.digest)
    session.finished[spec.display] = (final, target)
    return FinishedRun(result, final, method.architecture(ctx), target, tuple(names))


def preflight(config: ExperimentConfig) -> None:
    """Fail before any work on what can be checked cheaply: method names and configs, PTM specs."""
    from zhijian_core.ptm.spec import parse_ptm_spec

    parse_ptm_spec(config.ptm)
    for spec in config.methods:
        method = create_method(spec.method, spec.config)
        train_config(dict(method.default_train), spec.train, spec.display)
        if spec.ptm is not None:
            parse_ptm_spec(spec.ptm)


def _baseline_label(name: str, spec: RunSpec | None) -> str:
    """The baseline's name for the data config of ``spec`` (``tfidf_logreg@16shot`` beside ``ncm@16shot``)."""
    if spec is None or not spec.data:
        return name
    if spec.label and "@" in spec.label:
        return f"{name}@{spec.label.split('@', 1)[1]}"
    return name + "@" + ",".join(f"{k}={v}" for k, v in sorted(spec.data.items()))


def run_experiment(config: ExperimentConfig, session: Session,
                   on_result: Callable[[RunResult], None] | None = None,
                   on_skip: Callable[[RunSpec, NotApplicableError], None] | None = None
                   ) -> list[RunResult]:
    """Run every method (and the baselines) for every seed; return all results in order.

    Args:
        on_result: Called with each result as it comes.
        on_skip: When given, a method that does not apply to its backbone is handed to it with
            the error and not tried for later seeds (the rest goes on); otherwise the error is
            raised.
    """
    preflight(config)
    results: list[RunResult] = []
    skipped: set[str] = set()

    def emit(result: RunResult) -> None:
        results.append(result)
        if on_result is not None:
            on_result(result)

    for seed in config.seeds:
        session.finished.clear()
        for base in run_baselines(config, session, seed):
            emit(base)
        for spec in config.methods:
            if spec.display in skipped:
                continue
            try:
                emit(run_method(spec, seed, session))
            except NotApplicableError as exc:
                if on_skip is None:
                    raise
                skipped.add(spec.display)
                on_skip(spec, exc)
    return results


def run_baselines(config: ExperimentConfig, session: Session, seed: int) -> list[RunResult]:
    """The non-PTM baseline on every data config of the experiment (none if it asks for none)."""
    from zhijian_core.compare.baselines import run_baseline

    results: list[RunResult] = []
    if not config.baseline:
        return results
    done: set[str] = set()
    for spec in [None, *config.methods]:
        label = _baseline_label("baseline", spec)
        if label in done:
            continue
        done.add(label)
        run_data = data_config(config, spec, seed)
        splits: Splits = session.splits(run_data)
        base = run_baseline(splits, seed, run_data.dataset)
        results.append(base.model_copy(update={"label": _baseline_label(base.method, spec)}))
    return results


def default_out_dir(config: ExperimentConfig) -> Path:
    """Where a comparison writes its leaderboard by default."""
    return Path("out") / config.name

"""Write a bundle: export, copy the assets, check parity, evaluate itself, write the manifest.

Everything happens inside the temporary directory of :func:`zhijian_core.bundle.io.write_bundle`,
which is renamed into place only at the end: a failed check or a full disk leaves nothing behind.
Parity, the evaluation and the latency are measured on the files as written, so what the manifest
reports is what the service will load.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

import zhijian_core
from zhijian_core.bundle import io as bundle_io
from zhijian_core.bundle.manifest import (IO, DatasetLineage, Evaluation, Evidence, Lineage, Manifest,
                                          MethodLineage, PTMLineage, Task)
from zhijian_core.data.dataset import Dataset
from zhijian_core.errors import ExportError
from zhijian_core.export.evaluate import (evaluate_classifier, evaluate_embedding, measure_latency,
                                          timing_batches)
from zhijian_core.export.onnx_export import TaskKind, export_onnx
from zhijian_core.export.gpu_package import load_with_gpu_package, side_python
from zhijian_core.export.optimize import (OptimizeConfig, OptimizeInputs, optimize,
                                          transformer_shape)
from zhijian_core.export.parity import DEFAULT_TOLERANCE, check_parity
from zhijian_core.names import check_model_name
from zhijian_core.preprocess import build_preprocessor
from zhijian_core.preprocess.spec import ImagePreprocessSpec, TextPreprocessSpec

if TYPE_CHECKING:
    from torch import nn

LABELS = "labels.json"


@dataclass(frozen=True)
class EvaluationData:
    """The raw data a bundle evaluates itself on.

    Attributes:
        test: The labelled test split, raw.
        fingerprint: Fingerprint of the split it belongs to.
        train: Train examples whose class means score an embedding bundle (``None`` for
            classification).
    """

    test: Dataset
    fingerprint: str
    train: Dataset | None = None


@dataclass(frozen=True)
class BundleSource:
    """Everything a bundle is made from.

    Attributes:
        module: The finalized classifier (batch dict to logits), or for an embedding bundle the
            backbone (batch dict to pooled features).
        kind: ``classification`` or ``embedding``.
        preprocess: The closed preprocessing spec the module was trained with.
        assets_dir: Folder holding the preprocessing assets (the tokenizer file); ``None`` for images.
        labels: Class names (classification); empty for embeddings.
        dimension: Length of the embedding (embedding bundles).
        ptm: Lineage of the pre-trained model.
        method: Lineage of the reuse method (``ptm`` / ``none`` for a PTM served as is).
        dataset: Lineage of the data, or ``None`` without data.
        run_id: The stored run it comes from, if any.
        parity_inputs: Real raw inputs (validation examples) that parity compares on.
        parity_inputs_name: What ``parity_inputs`` are, for the manifest.
        evaluation: Data of the bundle's own evaluation, or ``None`` (then ``evaluation_skipped``).
        evaluation_skipped: Why there is no evaluation.
        calibration_inputs: Real raw training inputs static int8 calibrates on (``None``: none).
    """

    module: "nn.Module"
    kind: TaskKind
    preprocess: TextPreprocessSpec | ImagePreprocessSpec
    assets_dir: Path | None
    labels: tuple[str, ...]
    dimension: int | None
    ptm: PTMLineage
    method: MethodLineage
    dataset: DatasetLineage | None
    run_id: str | None
    parity_inputs: Sequence[Any]
    parity_inputs_name: str
    evaluation: EvaluationData | None
    evaluation_skipped: str | None = None
    calibration_inputs: Sequence[Any] | None = None


def trace_example(spec: TextPreprocessSpec | ImagePreprocessSpec, assets_dir: Path | None,
                  raw_inputs: Sequence[Any]) -> dict[str, np.ndarray]:
    """A small preprocessed batch to trace with; text gets one extra padded column.

    The padding guarantees the traced graph keeps the attention-mask path even when the sampled
    examples happen to share one length.
    """
    batch = build_preprocessor(spec, assets_dir)(list(raw_inputs[:2]))
    if isinstance(spec, TextPreprocessSpec):
        pad = {"input_ids": spec.pad_token_id, "attention_mask": 0, "token_type_ids": 0}
        batch = {name: np.concatenate([a, np.full((a.shape[0], 1), pad[name], a.dtype)], axis=1)
                 for name, a in batch.items()}
    return batch


def _copy_asset(source_dir: Path | None, name: str, target_dir: Path) -> None:
    if source_dir is None or not (Path(source_dir) / name).is_file():
        raise ExportError(f"the preprocessing asset '{name}' is not in {source_dir}; the bundle "
                          "needs it to preprocess text")
    target = target_dir / name
    target.parent.mkdir(parents=True, exist_ok=True)
    bundle_io.write_file(target, (Path(source_dir) / name).read_bytes())


def _evaluate(source: BundleSource, folder: Path, model: Path | None = None) -> Evaluation | None:
    data = source.evaluation
    if data is None:
        return None
    if source.kind == "classification":
        return evaluate_classifier(folder, source.preprocess, data.test, source.labels,
                                   data.fingerprint, model)
    if data.train is None:
        raise ExportError("evaluating an embedding bundle needs train examples for the class means")
    return evaluate_embedding(folder, source.preprocess, data.train, data.test, data.fingerprint,
                              model)


def _optimize_inputs(source: BundleSource, folder: Path, config: OptimizeConfig,
                     tolerance: float) -> OptimizeInputs:
    spec = source.preprocess
    preprocessor = build_preprocessor(spec, folder)
    batch_1, batch_32 = timing_batches(folder, spec, source.parity_inputs)
    calibration = None
    raw = source.calibration_inputs
    if raw is not None and len(raw) >= config.calibration_examples:
        raw = raw[:config.calibration_examples]
        calibration = [preprocessor(list(raw[i:i + 32])) for i in range(0, len(raw), 32)]
    return OptimizeInputs(
        parity_batch=preprocessor(list(source.parity_inputs)), batch_1=batch_1, batch_32=batch_32,
        evaluate=(lambda path: _evaluate(source, folder, path)) if source.evaluation else None,
        calibration=calibration, transformer=transformer_shape(source.module), tolerance=tolerance)


def write_model_bundle(source: BundleSource, name: str, out: Path,
                       tolerance: float = DEFAULT_TOLERANCE,
                       optimize_config: OptimizeConfig | None = None) -> Manifest:
    """Export ``source`` into the bundle directory ``out`` (atomically) and return its manifest.

    Args:
        source: The module, its preprocessing, lineage and the data for the checks.
        name: Registry name of the model (checked against the names grammar).
        out: The bundle directory to create; it must not exist.
        tolerance: Largest accepted ONNX-vs-PyTorch max absolute difference.
        optimize_config: Optimizations to try after the fp32 graph passed its checks (none by
            default); each is measured and recorded, and kept only by the rule of
            :mod:`zhijian_core.export.optimize`.

    Returns:
        The manifest written (with every file's SHA-256).

    Raises:
        InvalidNameError: ``name`` breaks the names grammar.
        ExportError: Export, parity or evaluation failed; nothing is left under ``out``.
        BundleError: ``out`` already exists.
        OSError: Writing failed (a full disk); nothing is left under ``out``.
    """
    check_model_name(name)
    if source.evaluation is None and source.evaluation_skipped is None:
        raise ExportError("a bundle without evaluation data must say why (evaluation_skipped)")
    spec = source.preprocess

    def fill(folder: Path) -> Manifest:
        graph = export_onnx(source.module, source.kind, spec,
                            trace_example(spec, source.assets_dir, source.parity_inputs))
        bundle_io.write_file(folder / bundle_io.MODEL, graph.model)
        if isinstance(spec, TextPreprocessSpec):
            _copy_asset(source.assets_dir, spec.tokenizer_file, folder)
        if source.kind == "classification":
            bundle_io.write_file(folder / LABELS, json.dumps(list(source.labels)).encode())
        written = sorted(p.name for p in folder.iterdir())
        parity = check_parity(source.module, source.kind, folder / bundle_io.MODEL, spec, folder,
                              source.parity_inputs, tolerance)
        parity = parity.model_copy(update={"inputs": source.parity_inputs_name})
        evaluation = _evaluate(source, folder)
        records, skipped = [], None if evaluation else source.evaluation_skipped
        outcome_fp16 = False
        if optimize_config is not None and optimize_config.optimizations:
            outcome = optimize(graph.model, evaluation,
                               _optimize_inputs(source, folder, optimize_config, tolerance),
                               optimize_config)
            records = outcome.records
            if outcome.model is not graph.model:
                bundle_io.write_file(folder / bundle_io.MODEL, outcome.model)
                evaluation = outcome.evaluation
                if evaluation is None and skipped is None:
                    skipped = "the float16 graph cannot be evaluated on this machine's CPU"
            outcome_fp16 = outcome.fp16
            if outcome.fp16:
                parity = parity.model_copy(update={"verified": False})
        try:
            latency_b1, latency_b32 = measure_latency(folder, spec, source.parity_inputs)
        except ExportError:
            if not outcome_fp16:
                raise
            latency_b1 = latency_b32 = None  # a float16 graph this CPU cannot run
        python = side_python()
        gpu_package = (load_with_gpu_package(folder / bundle_io.MODEL, python)
                       if python is not None else None)
        if sorted(p.name for p in folder.iterdir()) != written:
            raise ExportError(f"checking the bundle wrote files into it: {written}")
        lineage = Lineage(model_name=name, ptm=source.ptm, method=source.method,
                          dataset=source.dataset, run_id=source.run_id,
                          code_version=zhijian_core.__version__,
                          created_at=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"))
        task = (Task(kind="classification", labels=list(source.labels))
                if source.kind == "classification" else
                Task(kind="embedding", dimension=source.dimension))
        io_spec = IO(inputs=graph.inputs, outputs=graph.outputs,
                     raw_input="text" if isinstance(spec, TextPreprocessSpec) else "image",
                     preprocess=spec)
        evidence = Evidence(parity=parity, evaluation=evaluation, optimizations=records,
                            latency_ms_b1=latency_b1, latency_ms_b32=latency_b32,
                            gpu_package=gpu_package, evaluation_skipped=skipped)
        return Manifest(lineage=lineage, task=task, io=io_spec, opset=graph.opset,
                        evidence=evidence, files={})

    return bundle_io.write_bundle(Path(out), fill)

"""Where a bundle comes from: a stored run, a PTM served as is, or a training-free method.

Each function gathers a :class:`BundleSource`: the module, its preprocessing, the lineage, and the
real data the export checks itself on. Data is always rebuilt from the recorded data config and
refused when its split fingerprint differs from the one recorded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import numpy as np

from zhijian_core.bundle.manifest import DatasetLineage, MethodLineage, PTMLineage
from zhijian_core.data.config import DataConfig
from zhijian_core.data.dataset import Splits
from zhijian_core.errors import ConfigError, ExportError
from zhijian_core.export.bundle_writer import BundleSource, EvaluationData

if TYPE_CHECKING:
    from zhijian_core.runs.store import RunStore
PARITY_EXAMPLES = 32
"""Real inputs parity compares on (the largest batch size)."""

SAMPLE_TEXTS = (
    "The flight was delayed for three hours and nobody told us why.",
    "Great crew, comfortable seats, and the food was surprisingly good!",
    "ok",
    "Lost my bag again. Third time this year; I am switching airlines.",
    "Can you tell me whether the 7:45 to Boston is on time?",
    "Thanks for the upgrade, made my day :)",
    "The movie selection on board could be better, but the service was fine.",
    "Worst customer service I have ever experienced, on hold for 2 hours.",
)
"""Sentences parity compares on when an embedding bundle is exported without data."""


def sample_images(count: int = 8, side: int = 64, seed: int = 0) -> list[np.ndarray]:
    """Deterministic RGB uint8 images (gradients plus noise) for parity without data."""
    rng = np.random.default_rng(seed)
    ramp = np.linspace(0, 255, side, dtype=np.float64)
    images = []
    for i in range(count):
        base = np.stack([np.add.outer(ramp * (i % 3) / 2, ramp * ((i + 1) % 3) / 2)] * 3, axis=-1)
        noise = rng.integers(0, 64, size=(side, side, 3))
        images.append(np.clip(base / 2 + noise + 32 * (np.arange(3) == i % 3), 0, 255).astype(np.uint8))
    return images


def splits_checked(data: DataConfig, fingerprint: str | None) -> Splits:
    """Load and split ``data``; refuse when the split's fingerprint differs from ``fingerprint``.

    Args:
        data: The data config the splits were drawn with.
        fingerprint: The recorded split fingerprint (``None``: nothing to compare with).

    Raises:
        ExportError: The data or the split changed since the fingerprint was recorded.
        DatasetError: The data cannot be loaded.
    """
    from zhijian_core.data.load import load_splits

    splits = load_splits(data)
    if fingerprint is not None and splits.fingerprint != fingerprint:
        raise ExportError(f"the data {data.dataset!r} now splits to fingerprint "
                          f"{splits.fingerprint[:12]}…, not the run's {fingerprint[:12]}…: the data "
                          "changed since the run; refusing to evaluate on different data")
    return splits


def _parity_inputs(splits: Splits) -> Sequence[object]:
    part = splits.val if len(splits.val) else splits.test
    return part.inputs[:PARITY_EXAMPLES]


def from_run(run_id: str, store: "RunStore | None" = None) -> BundleSource:
    """The classification bundle source of a stored, finished run.

    Args:
        run_id: MLflow run id of the run.
        store: The run store (the default store otherwise).

    Raises:
        RunStoreError: No such run.
        ExportError: The run lacks its data config, or its data changed since.
    """
    from zhijian_core.runs.store import RunStore

    store = store or RunStore()
    stored = store.load(run_id)
    result = stored.result
    if result.data_config is None:
        raise ExportError(f"run {run_id} was stored without its data config, so its test split "
                          "cannot be rebuilt; re-run it with this version of ZhiJian")
    splits = splits_checked(DataConfig.model_validate(result.data_config), result.data_fingerprint)
    if tuple(splits.test.label_names) != tuple(stored.label_names):
        raise ExportError(f"run {run_id} has labels {list(stored.label_names)} but its data has "
                          f"{list(splits.test.label_names)}; refusing to evaluate on different data")
    from zhijian_core.ptm.load import load_ptm

    skeleton = load_ptm(result.ptm, pretrained=False)
    return BundleSource(
        module=stored.module, kind="classification", preprocess=stored.preprocess,
        assets_dir=stored.assets_dir, labels=stored.label_names, dimension=None,
        ptm=PTMLineage(spec=result.ptm, identity=skeleton.identity,
                       digest=result.ptm_digest or "unknown", licence=skeleton.licence),
        method=MethodLineage(name=result.method, family=result.family, config=result.config,
                             train_config=result.train_config),
        dataset=DatasetLineage(name=result.dataset, fingerprint=result.data_fingerprint),
        run_id=run_id, parity_inputs=_parity_inputs(splits), parity_inputs_name="validation split",
        evaluation=EvaluationData(test=splits.test, fingerprint=splits.fingerprint),
        calibration_inputs=splits.train.inputs)


def from_ptm(spec: str, data: DataConfig | None) -> BundleSource:
    """The embedding bundle source of a PTM served as is (L2-normalized pooled features).

    Args:
        spec: PTM spec string.
        data: Data to check parity on and evaluate with (nearest class mean over the bundle's
            vectors); ``None`` checks parity on built-in samples and skips the evaluation.

    Raises:
        PTMError: The PTM cannot be loaded.
        DatasetError: The data cannot be loaded.
    """
    from zhijian_core.ptm.load import load_ptm

    ptm = load_ptm(spec)
    lineage = dict(ptm=PTMLineage(spec=ptm.spec, identity=ptm.identity, digest=ptm.digest,
                                  licence=ptm.licence),
                   method=MethodLineage(name="ptm", family="none"))
    common = dict(module=ptm.backbone, kind="embedding", preprocess=ptm.preprocess,
                  assets_dir=ptm.assets_dir, labels=(), dimension=ptm.backbone.feature_dim,
                  run_id=None)
    if data is None:
        samples = list(SAMPLE_TEXTS) if ptm.backbone.kind == "text" else sample_images()
        return BundleSource(**common, **lineage, dataset=None, parity_inputs=samples,
                            parity_inputs_name="built-in samples", evaluation=None,
                            evaluation_skipped="exported without a dataset")
    splits = splits_checked(data, None)
    return BundleSource(**common, **lineage,
                        dataset=DatasetLineage(name=data.dataset, fingerprint=splits.fingerprint),
                        parity_inputs=_parity_inputs(splits), parity_inputs_name="validation split",
                        evaluation=EvaluationData(test=splits.test, fingerprint=splits.fingerprint,
                                                  train=splits.train),
                        calibration_inputs=splits.train.inputs)


def from_method(method: str, ptm_spec: str, data: DataConfig, max_length: int | None = None,
                image_size: int | None = None) -> BundleSource:
    """Fit a training-free method (``ncm``) through the runner, without storing, as a source.

    Args:
        method: Registered method name; it must not train.
        ptm_spec: PTM spec string.
        data: Dataset and split the method fits on (its train split) and is evaluated on.
        max_length: Maximum tokens per text (the PTM's default otherwise).
        image_size: Square image side (the PTM's default otherwise).

    Raises:
        ConfigError: The method trains (export its stored run instead) or is unknown.
    """
    from zhijian_core.experiment.config import parse_experiment
    from zhijian_core.experiment.runner import run_method
    from zhijian_core.experiment.session import Session, resolve_device
    from zhijian_core.methods.registry import create_method

    if create_method(method).trains:
        raise ConfigError(f"method '{method}' trains: run it with `zhijian compare` and export the "
                          "stored run with `zhijian export --run RUN_ID`")
    preprocess = {k: v for k, v in {"max_length": max_length, "image_size": image_size}.items()
                  if v is not None}
    config = parse_experiment({"name": "export", "ptm": ptm_spec, "data": data.model_dump(),
                               "methods": [{"method": method}], "seeds": [data.seed],
                               "baseline": False, "device": "cpu", "preprocess": preprocess},
                              "the export command")
    session = Session(config, None, resolve_device("cpu"))
    run_spec = config.methods[0]
    result = run_method(run_spec, data.seed, session)
    final, target = session.finished[run_spec.display]
    splits = session.splits(data)
    return BundleSource(
        module=final, kind="classification", preprocess=target.preprocess,
        assets_dir=target.assets_dir, labels=tuple(splits.train.label_names), dimension=None,
        ptm=PTMLineage(spec=target.spec, identity=target.identity, digest=target.digest,
                       licence=target.licence),
        method=MethodLineage(name=result.method, family=result.family, config=result.config,
                             train_config=result.train_config),
        dataset=DatasetLineage(name=data.dataset, fingerprint=splits.fingerprint), run_id=None,
        parity_inputs=_parity_inputs(splits), parity_inputs_name="validation split",
        evaluation=EvaluationData(test=splits.test, fingerprint=splits.fingerprint),
        calibration_inputs=splits.train.inputs)

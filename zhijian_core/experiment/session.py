"""State shared by the runs of one experiment: loaded PTMs, splits, tensors, features, finished runs.

Everything cached here is keyed by content (PTM spec and preprocessing, dataset fingerprint), so a
cache hit is always the same computation. Frozen features remember how long they took to compute:
a method that uses them is charged that time whether or not it hit the cache.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from zhijian_core.data import load_dataset, make_splits
from zhijian_core.data.config import DataConfig
from zhijian_core.data.dataset import Dataset, Splits
from zhijian_core.errors import ConfigError
from zhijian_core.experiment.config import ExperimentConfig, PreprocessOverrides
from zhijian_core.methods.base import MethodContext
from zhijian_core.preprocess.spec import ImagePreprocessSpec, TextPreprocessSpec
from zhijian_core.ptm.loaded import LoadedPTM
from zhijian_core.runs.store import RunStore
from zhijian_core.train.evaluate import predict_logits
from zhijian_core.train.tensors import TensorSet, iterate_batches, to_device

RUN_PREFIX = "run:"


def resolve_device(name: str) -> torch.device:
    """``auto`` picks CUDA when available, else the CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise ConfigError(f"unknown device '{name}'; use auto, cpu or cuda[:i]") from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device '{name}' asked for, but CUDA is not available here")
    return device


def apply_overrides(ptm: LoadedPTM, overrides: PreprocessOverrides) -> LoadedPTM:
    """Return ``ptm`` with the task's preprocessing changes applied to its spec."""
    spec = ptm.preprocess
    if isinstance(spec, TextPreprocessSpec) and overrides.max_length is not None:
        spec = spec.model_copy(update={"max_length": overrides.max_length})
    if isinstance(spec, ImagePreprocessSpec) and overrides.image_size is not None:
        spec = spec.model_copy(update={"resize": overrides.image_size, "crop": overrides.image_size})
    if spec is ptm.preprocess:
        return ptm
    return LoadedPTM(ptm.spec, ptm.backbone, spec, ptm.assets_dir, ptm.identity, ptm.digest,
                     ptm.licence, ptm.pretrained)


def _preprocess_key(ptm: LoadedPTM) -> str:
    return f"{ptm.spec}|{ptm.digest}|{ptm.preprocess.model_dump_json()}"


@dataclass
class Features:
    """Cached frozen features and the seconds it took to compute them."""

    values: Tensor
    seconds: float


class Session:
    """Caches and services for the runs of one experiment."""

    def __init__(self, config: ExperimentConfig, store: RunStore | None, device: torch.device,
                 eval_batch_size: int = 64) -> None:
        self.config = config
        self.store = store
        self.device = device
        self.eval_batch_size = eval_batch_size
        self._ptms: dict[str, LoadedPTM] = {}
        self._datasets: dict[str, Dataset] = {}
        self._tensors: dict[tuple[str, str], TensorSet] = {}
        self._features: dict[tuple[str, str], Features] = {}
        self.finished: dict[str, tuple[nn.Module, LoadedPTM]] = {}
        """Finalized models of the current seed, by run label (``run:<label>`` references)."""
        self._charged: set[tuple[str, str]] = set()
        self.cached_feature_seconds = 0.0
        """Seconds of feature extraction the current run got from the cache (see ``begin_run``)."""

    def begin_run(self) -> None:
        """Start charging cache hits of frozen features to a new run."""
        self._charged = set()
        self.cached_feature_seconds = 0.0

    # ---- sources -------------------------------------------------------------------------
    def ptm(self, spec: str) -> LoadedPTM:
        """Load (once) a PTM with the experiment's preprocessing overrides applied."""
        if spec not in self._ptms:
            from zhijian_core.ptm.load import load_ptm

            loaded = load_ptm(spec)
            self._ptms[spec] = apply_overrides(loaded, self.config.preprocess)
        return self._ptms[spec]

    def splits(self, data: DataConfig) -> Splits:
        """Deterministic splits for ``data`` (the dataset is read once per name and columns)."""
        key = data.model_dump_json(include={"dataset", "text_column", "label_column"})
        if key not in self._datasets:
            self._datasets[key] = load_dataset(data)
        return make_splits(self._datasets[key], data)

    def load_model(self, reference: str, splits: Splits) -> tuple[nn.Module, LoadedPTM]:
        """Resolve ``run:<label or MLflow run id>``, or a PTM spec (its nearest-class-mean classifier)."""
        if reference.startswith(RUN_PREFIX):
            key = reference[len(RUN_PREFIX):]
            if key in self.finished:
                return self.finished[key]
            if self.store is None:
                raise ConfigError(f"'{reference}' is not an earlier run of this experiment and no "
                                  "run store is open to look it up")
            stored = self.store.load(key)
            ptm = self.ptm(stored.architecture.ptm)
            ptm = LoadedPTM(ptm.spec, ptm.backbone, stored.preprocess, stored.assets_dir,
                            ptm.identity, ptm.digest, ptm.licence, ptm.pretrained)
            return stored.module.to(self.device), ptm
        from zhijian_core.methods.registry import create_method

        ncm = create_method("ncm")
        ctx = self.context(splits, seed=0, ptm=reference)
        model = ncm.build(ctx).to(self.device)
        ncm.prepare(model, ctx)
        return ncm.finalize(model), ctx.ptm

    # ---- tensors and features ------------------------------------------------------------
    def tensors(self, ptm: LoadedPTM, dataset: Dataset) -> TensorSet:
        """``dataset`` preprocessed for ``ptm`` (cached)."""
        from zhijian_core.train.tensors import tensorize

        key = (_preprocess_key(ptm), dataset.fingerprint())
        if key not in self._tensors:
            self._tensors[key] = tensorize(dataset, ptm.preprocess, ptm.assets_dir)
        return self._tensors[key]

    @torch.inference_mode()
    def features(self, ptm: LoadedPTM, dataset: Dataset) -> Features:
        """Pooled features of ``dataset`` through ``ptm``'s frozen backbone (cached, timed)."""
        key = (_preprocess_key(ptm), dataset.fingerprint())
        if key in self._features and key not in self._charged:
            self.cached_feature_seconds += self._features[key].seconds
        self._charged.add(key)
        if key not in self._features:
            start = time.perf_counter()
            data = self.tensors(ptm, dataset)
            backbone = ptm.backbone.to(self.device).eval()
            parts = [backbone(to_device(data.batch(index), self.device)).float().cpu()
                     for index in iterate_batches(len(data), self.eval_batch_size, None)]
            values = torch.cat(parts) if parts else torch.empty(0, backbone.feature_dim)
            self._features[key] = Features(values, time.perf_counter() - start)
        return self._features[key]

    def logits_of(self, module: nn.Module, ptm: LoadedPTM, dataset: Dataset) -> Tensor:
        """Logits of a finalized ``module`` on ``dataset`` preprocessed for ``ptm``."""
        return predict_logits(module, self.tensors(ptm, dataset), self.eval_batch_size, self.device)

    def context(self, splits: Splits, seed: int, ptm: str | None = None,
                data: DataConfig | None = None) -> MethodContext:
        """The context handed to a method (source PTM ``ptm``, or the experiment's); ``data``, the
        run's data config, lets it draw other datasets' splits alike (``task_splits``)."""
        task_splits = None if data is None else (
            lambda name: self.splits(data.model_copy(update={"dataset": name})))
        return MethodContext(
            ptm=self.ptm(ptm or self.config.ptm), splits=splits, num_classes=splits.train.num_classes,
            device=self.device, seed=seed,
            load_model=lambda reference: self.load_model(reference, splits),
            load_ptm=self.ptm,
            encode=lambda ptm, dataset: self.features(ptm, dataset).values,
            logits_of=self.logits_of,
            tensors=lambda ptm, dataset: self.tensors(ptm, dataset).inputs,
            task_splits=task_splits)

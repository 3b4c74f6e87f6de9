"""The bundle manifest: the contract between the reuse core and the service.

A bundle is a directory: ``model.onnx``, the preprocessing assets (tokenizer file), and this
manifest. The manifest is versioned: a bundle whose ``schema_version`` has a newer major version
than :data:`SCHEMA_VERSION` is refused; unknown fields of a newer minor version are ignored with a
warning. It is torch-free (the service reads it).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from zhijian_core.preprocess.spec import PreprocessSpec

SCHEMA_VERSION = "1.1"
"""Major.minor of the manifest schema this code writes and reads (1.1 added each
optimization's ``max_abs_diff`` and the ``gpu_package`` load check)."""


class _Part(BaseModel):
    # Unknown keys are tolerated here (minor versions add fields); the loader warns about them.
    model_config = ConfigDict(extra="ignore", frozen=True)


class PTMLineage(_Part):
    """The pre-trained model the bundle was built from."""

    spec: str
    """PTM spec string (``minilm-l6``, ``timm:<name>`` ...)."""
    identity: str
    """Upstream identity (``sentence-transformers/all-MiniLM-L6-v2``)."""
    digest: str
    """SHA-256 of the PTM weights as loaded."""
    licence: str | None = None
    """Licence of the weights where known."""


class MethodLineage(_Part):
    """The reuse method and its full config."""

    name: str
    """Registered method name (or ``ptm`` for a PTM served as is)."""
    family: str
    """ZhiJian family (``architect``, ``tuner``, ``merger``; ``none`` for a PTM served as is)."""
    config: dict = Field(default_factory=dict)
    """The method's config as it ran."""
    train_config: dict | None = None
    """Training hyper-parameters (``None`` for training-free methods)."""


class DatasetLineage(_Part):
    """The data the bundle was trained and evaluated on."""

    name: str
    """Dataset name or path as given."""
    fingerprint: str
    """Split fingerprint (data + split indices + sizes + seed)."""


class Lineage(_Part):
    """Where the bundle comes from."""

    model_name: str
    """Registry name of the model (see ``zhijian_core.names``)."""
    ptm: PTMLineage
    method: MethodLineage
    dataset: DatasetLineage | None = None
    """``None`` for a PTM served as is without evaluation data."""
    run_id: str | None = None
    """MLflow run of the finished run it was exported from."""
    code_version: str
    """ZhiJian version that exported it."""
    created_at: str
    """ISO 8601 creation time (UTC)."""


class Task(_Part):
    """What the model computes."""

    kind: Literal["classification", "embedding"]
    labels: list[str] | None = None
    """Class names, index ``i`` names output ``i`` (classification)."""
    dimension: int | None = None
    """Length of the normalized output vector (embedding)."""


class TensorSpec(_Part):
    """One ONNX input or output."""

    name: str
    dtype: Literal["int64", "int32", "float32", "float16"]
    shape: list[int | str]
    """Dimensions; a string names a dynamic axis (``batch``, ``sequence``)."""


class IO(_Part):
    """The model's tensors and the raw input the service accepts."""

    inputs: list[TensorSpec]
    outputs: list[TensorSpec]
    raw_input: Literal["text", "image"]
    """``text`` (BYTES, UTF-8) or ``image`` (encoded image bytes)."""
    preprocess: PreprocessSpec
    """The closed preprocessing spec that maps raw input to ``inputs``."""


class Parity(_Part):
    """ONNX Runtime against PyTorch on real validation inputs."""

    max_abs_diff: float
    tolerance: float
    passed: bool
    batch_sizes: list[int]
    sequence_lengths: list[int] | None = None
    verified: bool = True
    """``False`` when not measured where it matters (fp16 parity without a GPU)."""
    inputs: str = "validation split"
    """Which real inputs were compared (the validation split, or built-in samples without data)."""


class Evaluation(_Part):
    """The bundle's own evaluation: ONNX session + preprocessing module on the raw test inputs."""

    dataset_fingerprint: str
    examples: int
    accuracy: float
    macro_f1: float


class Optimization(_Part):
    """One optimization tried at export, measured, and applied or refused."""

    kind: Literal["graph", "int8-dynamic", "int8-qdq", "fp16"]
    applied: bool
    forced: bool = False
    quality_change: float | None = None
    """Change of the primary metric (points of macro-F1; negative is a loss) against the graph it
    was applied to, on the bundle's own test evaluation; ``None`` when not measurable."""
    max_abs_diff: float | None = None
    """Largest absolute difference of the first output against the graph it was applied to."""
    speedup_b1: float | None = None
    """Median latency of the graph it was applied to over its own, at batch 1 (interleaved runs)."""
    speedup_b32: float | None = None
    """The same at batch 32 (or the largest batch the parity inputs allow)."""
    reason: str = ""
    """Why it was applied or refused, with the figures that decided."""


class GpuPackageLoad(_Part):
    """The bundle loaded and ran with ``onnxruntime-gpu`` in a side environment."""

    package: str
    """Distribution and version, e.g. ``onnxruntime-gpu 1.31.1``."""
    providers: list[str]
    """Execution providers the session really used (the CPU one where there is no GPU)."""


class Evidence(_Part):
    """What the export measured about the bundle."""

    parity: Parity
    evaluation: Evaluation | None = None
    optimizations: list[Optimization] = Field(default_factory=list)
    latency_ms_b1: float | None = None
    """Median latency at batch 1 where it was exported (recorded, never a production gate)."""
    latency_ms_b32: float | None = None
    gpu_package: GpuPackageLoad | None = None
    """Proof that the GPU package accepts the graph (``None``: not checked at export)."""
    evaluation_skipped: str | None = None
    """Why ``evaluation`` is absent (an embedding bundle exported without a dataset)."""


class Manifest(_Part):
    """``manifest.json`` of a bundle."""

    schema_version: str = SCHEMA_VERSION
    lineage: Lineage
    task: Task
    io: IO
    opset: int
    evidence: Evidence
    files: dict[str, str]
    """SHA-256 of every other file of the bundle, by relative path."""

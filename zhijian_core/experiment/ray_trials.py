"""Run a comparison's (method, seed) trials as Ray tasks; only the driver writes to the run store.

Each trial is one Ray task with its own resources. A trial whose config references another run of
the same comparison (``run:<label>``: a distillation teacher, merge ingredients, WiSE-FT ends) is
started once that run has finished, and receives its finalized model as a :class:`ModelPayload`
(safetensors bytes, the architecture JSON, the preprocessing spec and its tokenizer file); it is
never trained again. Trials whose references are done run in parallel. ``run:<run id>``
references to runs stored earlier are read by the driver and passed the same way.

Workers never open MLflow: a task returns the :class:`~zhijian_core.train.result.RunResult` and
the finalized model as a payload, and the driver stores every run, so the stored runs and the
leaderboard have the same structure as an in-process comparison. The non-PTM baselines are cheap
and run on the driver.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from pydantic import TypeAdapter

from zhijian_core.errors import ConfigError, ZhijianError
from zhijian_core.experiment.config import ExperimentConfig, RunSpec
from zhijian_core.preprocess.spec import PreprocessSpec
from zhijian_core.train.result import RunResult

_PREPROCESS = TypeAdapter(PreprocessSpec)
WEIGHTS_FILE = "weights.safetensors"


class TrialsFailedError(ZhijianError):
    """Some trials of a comparison on Ray failed (the others finished and were stored)."""


@dataclass(frozen=True)
class RayOptions:
    """Where and with what resources trials run."""

    address: str
    """Ray address (``auto``, ``ray://host:port`` or a GCS address); an open connection is
    reused."""
    cpus_per_trial: float = 1.0
    """CPUs Ray reserves for each trial task."""
    gpus_per_trial: float = 0.0
    """GPUs (fractions allowed) Ray reserves for each trial task."""

    def __post_init__(self) -> None:
        if self.cpus_per_trial < 0 or self.gpus_per_trial < 0:
            raise ConfigError("--cpus-per-trial and --gpus-per-trial must not be negative")


@dataclass(frozen=True)
class ModelPayload:
    """A finalized model as plain data: what a run store keeps, without any store."""

    weights: bytes
    """The module's safetensors file."""
    architecture: str
    """Architecture JSON (``zhijian_core.methods.rebuild.read_architecture`` reads it)."""
    ptm: str
    """Spec of the PTM whose preprocessing feeds the module."""
    preprocess: str
    """The preprocessing spec as JSON."""
    assets: dict[str, bytes] = field(default_factory=dict)
    """Files the preprocessing names (the tokenizer file), by name."""


@dataclass(frozen=True)
class TrialOutcome:
    """What a trial task returns: its result and finalized model, or its error."""

    label: str
    """The run's leaderboard name."""
    seed: int
    """The trial's seed."""
    result: RunResult | None = None
    """The run's result (without a run id: the driver stores it)."""
    model: ModelPayload | None = None
    """The finalized model."""
    label_names: tuple[str, ...] = ()
    """Class names, in label order."""
    error: str | None = None
    """Why the trial failed (``None``: it finished)."""


@dataclass
class RayComparison:
    """Results in the in-process order, and each failed trial's ``label seed N`` with its error."""

    results: list[RunResult]
    """Finished runs (baselines first within each seed, then the methods in recipe order)."""
    failures: dict[str, str]
    """Error of each failed trial, by ``<label> seed <n>``."""


# ---- payloads --------------------------------------------------------------------------------
def pack_model(module: Any, architecture: Any, ptm: Any) -> ModelPayload:
    """``module`` (finalized) with its architecture and the ``LoadedPTM`` that feeds it."""
    from safetensors.torch import save_model

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / WEIGHTS_FILE
        save_model(module, str(path))
        weights = path.read_bytes()
    assets: dict[str, bytes] = {}
    tokenizer_file = getattr(ptm.preprocess, "tokenizer_file", None)
    if tokenizer_file and ptm.assets_dir is not None:
        assets[tokenizer_file] = (Path(ptm.assets_dir) / tokenizer_file).read_bytes()
    return ModelPayload(weights, architecture.model_dump_json(), ptm.spec,
                        _PREPROCESS.dump_json(ptm.preprocess).decode(), assets)


def unpack_module(payload: ModelPayload) -> tuple[Any, Any]:
    """(module with its weights loaded strictly, architecture) of ``payload``."""
    from safetensors.torch import load_model

    from zhijian_core.methods.rebuild import read_architecture, rebuild_module
    from zhijian_core.ptm.load import load_ptm

    architecture = read_architecture(payload.architecture)
    module = rebuild_module(architecture, lambda spec: load_ptm(spec, pretrained=False).backbone)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / WEIGHTS_FILE
        path.write_bytes(payload.weights)
        missing, unexpected = load_model(module, str(path), strict=True)
    if missing or unexpected:
        raise ConfigError(f"a finalized model does not match its architecture "
                          f"(missing {missing}, unexpected {unexpected})")
    return module.eval(), architecture


def write_assets(payload: ModelPayload, folder: Path) -> Path | None:
    """Write the payload's assets into ``folder``; return it (``None`` when there are none)."""
    if not payload.assets:
        return None
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in payload.assets.items():
        (folder / name).write_bytes(data)
    return folder


# ---- references ------------------------------------------------------------------------------
def run_references(value: Any) -> set[str]:
    """Every ``run:<key>`` string anywhere in a method config."""
    from zhijian_core.experiment.session import RUN_PREFIX

    if isinstance(value, str):
        return {value[len(RUN_PREFIX):]} if value.startswith(RUN_PREFIX) else set()
    if isinstance(value, dict):
        return set().union(*(run_references(v) for v in value.values())) if value else set()
    if isinstance(value, (list, tuple)):
        return set().union(*(run_references(v) for v in value)) if value else set()
    return set()


def dependencies(config: ExperimentConfig) -> dict[str, set[str]]:
    """For each run label: the earlier runs of the comparison it references (its dependencies).

    A reference to anything else (a stored run id) is resolved from the store by the driver, as
    in-process.
    """
    out: dict[str, set[str]] = {}
    earlier: set[str] = set()
    for spec in config.methods:
        out[spec.display] = run_references(spec.config) & earlier
        earlier.add(spec.display)
    return out


# ---- the worker side -------------------------------------------------------------------------
def run_trial(config: ExperimentConfig, spec: RunSpec, seed: int,
              references: dict[str, ModelPayload]) -> TrialOutcome:
    """One trial in a Ray worker: no run store is opened; the finalized model is returned."""
    from zhijian_core.experiment.runner import execute_run
    from zhijian_core.experiment.session import Session, resolve_device
    from zhijian_core.ptm.loaded import LoadedPTM

    try:
        session = Session(config, None, resolve_device(config.device))
        with tempfile.TemporaryDirectory() as tmp:
            for index, (key, payload) in enumerate(sorted(references.items())):
                module, _ = unpack_module(payload)
                base = session.ptm(payload.ptm)
                assets = write_assets(payload, Path(tmp) / str(index))
                preprocess = _PREPROCESS.validate_json(payload.preprocess)
                ptm = LoadedPTM(base.spec, base.backbone, preprocess, assets, base.identity,
                                base.digest, base.licence, base.pretrained)
                session.finished[key] = (module.to(session.device), ptm)
            run = execute_run(spec, seed, session)
            model = pack_model(run.module.cpu(), run.architecture, run.target)
        return TrialOutcome(spec.display, seed, run.result, model, run.label_names)
    except Exception as exc:  # reported with the trial's name; the comparison goes on
        return TrialOutcome(spec.display, seed, error=f"{type(exc).__name__}: {exc}")


# ---- the driver side -------------------------------------------------------------------------
def _stored_payload(store: Any, key: str) -> ModelPayload:
    """A run stored earlier (``run:<run id>``), read by the driver for a worker."""
    from zhijian_core.ptm.loaded import LoadedPTM

    if store is None:
        raise ConfigError(f"'run:{key}' is not an earlier run of this experiment and no run store "
                          "is open to look it up")
    stored = store.load(key)
    feed = LoadedPTM(stored.architecture.ptm, None, stored.preprocess, stored.assets_dir, "", "",
                     None, False)
    return pack_model(stored.module, stored.architecture, feed)


def _store_outcome(store: Any, outcome: TrialOutcome) -> RunResult:
    """Write a finished trial to the store (the driver's job); return its result with its run id."""
    from zhijian_core.experiment.runner import FinishedRun, store_run
    from zhijian_core.ptm.loaded import LoadedPTM

    assert outcome.result is not None and outcome.model is not None
    if store is None:
        return outcome.result
    module, architecture = unpack_module(outcome.model)
    with tempfile.TemporaryDirectory() as tmp:
        assets = write_assets(outcome.model, Path(tmp))
        preprocess = _PREPROCESS.validate_json(outcome.model.preprocess)
        target = LoadedPTM(outcome.model.ptm, None, preprocess, assets, "", "", None, False)
        return store_run(store, FinishedRun(outcome.result, module, architecture, target,
                                            outcome.label_names))


def _connect(address: str) -> tuple[Any, bool]:
    try:
        import ray
    except ImportError as exc:
        raise ConfigError("running trials on Ray needs the 'ray' package (extra 'serve')") from exc
    if ray.is_initialized():
        return ray, False
    try:
        ray.init(address=address, log_to_driver=False, logging_level="WARNING",
                 configure_logging=False)
    except Exception as exc:  # Ray raises several types for an unreachable cluster
        raise ConfigError(f"cannot connect to Ray at '{address}': {exc}") from exc
    return ray, True


def run_experiment_on_ray(config: ExperimentConfig, store: Any, options: RayOptions,
                          on_result: Callable[[RunResult], None] | None = None,
                          on_failure: Callable[[str, str], None] | None = None) -> RayComparison:
    """Run every (method, seed) trial as a Ray task, dependencies first; store runs on the driver.

    Returns the results in the order :func:`~zhijian_core.experiment.runner.run_experiment` gives
    them, and the failed trials (a trial whose reference failed is not run and fails too).
    """
    from zhijian_core.experiment.runner import preflight, run_baselines
    from zhijian_core.experiment.session import Session, resolve_device

    preflight(config)
    ray, connected_here = _connect(options.address)
    remote = ray.remote(run_trial).options(num_cpus=options.cpus_per_trial,
                                           num_gpus=options.gpus_per_trial, max_retries=0)
    order = {spec.display: i for i, spec in enumerate(config.methods)}
    needs = dependencies(config)
    referenced = set().union(*needs.values())
    done: dict[tuple[str, int], TrialOutcome] = {}
    failures: dict[str, str] = {}
    ranked: list[tuple[tuple[int, int, int], RunResult]] = []
    driver = Session(config, store, resolve_device("cpu"))
    stored_refs: dict[str, ModelPayload] = {}

    def fail(label: str, seed: int, message: str) -> None:
        name = f"{label} seed {seed}"
        failures[name] = message
        done[(label, seed)] = TrialOutcome(label, seed, error=message)
        if on_failure is not None:
            on_failure(name, message)

    def accept(key: tuple[int, int, int], result: RunResult) -> None:
        ranked.append((key, result))
        if on_result is not None:
            on_result(result)

    try:
        waiting = [(seed, spec) for seed in config.seeds for spec in config.methods]
        running: dict[Any, tuple[int, RunSpec]] = {}
        for s_index, seed in enumerate(config.seeds):
            for b_index, base in enumerate(run_baselines(config, driver, seed)):
                accept((s_index, 0, b_index), base)
        while waiting or running:
            still: list[tuple[int, RunSpec]] = []
            for seed, spec in waiting:
                deps = needs[spec.display]
                if any((d, seed) not in done for d in deps):
                    still.append((seed, spec))
                    continue
                broken = sorted(d for d in deps if done[(d, seed)].error is not None)
                if broken:
                    fail(spec.display, seed, f"not run: it references failed run(s) {broken}")
                    continue
                try:
                    refs = {d: done[(d, seed)].model for d in deps}
                    for key in sorted(run_references(spec.config) - set(order)):
                        if key not in stored_refs:
                            stored_refs[key] = _stored_payload(store, key)
                        refs[key] = stored_refs[key]
                except ZhijianError as exc:
                    fail(spec.display, seed, str(exc))
                    continue
                running[remote.remote(config, spec, seed, refs)] = (seed, spec)
            if not running and still == waiting:  # cannot happen: references point backwards
                raise ZhijianError(f"trials wait on runs that never start: {still}")
            waiting = still
            if not running:
                continue
            ready, _ = ray.wait(list(running), num_returns=1)
            for ref in ready:
                seed, spec = running.pop(ref)
                try:
                    outcome: TrialOutcome = ray.get(ref)
                except Exception as exc:  # a worker that died or could not be scheduled
                    outcome = TrialOutcome(spec.display, seed, error=f"{type(exc).__name__}: {exc}")
                if outcome.error is not None:
                    fail(spec.display, seed, outcome.error)
                    continue
                try:
                    result = _store_outcome(store, outcome)
                except ZhijianError as exc:
                    fail(spec.display, seed, str(exc))
                    continue
                kept = outcome if spec.display in referenced else TrialOutcome(spec.display, seed)
                done[(spec.display, seed)] = kept  # weights only while a later trial needs them
                accept((config.seeds.index(seed), 1, order[spec.display]), result)
    finally:
        if connected_here:
            ray.shutdown()
    ranked.sort(key=lambda item: item[0])
    return RayComparison([result for _, result in ranked], failures)

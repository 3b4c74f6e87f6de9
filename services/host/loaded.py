"""A loaded version: verified bundle, ONNX Runtime session, preprocessor, warm-up, batched runs.

:meth:`LoadedVersion.run` takes the bound inputs of many requests and runs ONE ``session.run`` per
group of shape-compatible requests (all of them, for raw inputs and for same-shaped tensors; text
tensors of different lengths are right-padded as the tokenizer pads), then splits the outputs back
by rows. Requests whose tensors make ONNX Runtime fail are isolated by running them alone.
"""

from __future__ import annotations

import asyncio
import io
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from services.errors import InvalidInputError, NotReadyError, ServiceError
from services.host.config import HostConfig
from services.host.session import create_session
from services.protocol.signature import ModelInput, Signature
from zhijian_core.bundle.io import MODEL, verify_bundle
from zhijian_core.bundle.manifest import Manifest
from zhijian_core.errors import PreprocessError, ZhijianError
from zhijian_core.preprocess import Preprocessor, build_preprocessor
from zhijian_core.preprocess.spec import TextPreprocessSpec


@dataclass
class RunTiming:
    """Nanoseconds spent on one batch: preprocessing, ``session.run``, splitting the outputs."""

    compute_input_ns: int = 0
    compute_infer_ns: int = 0
    compute_output_ns: int = 0
    runs: int = 0
    """``session.run`` calls made."""
    items: int = 0
    """Items run (the largest single run's, for the batch-size statistics)."""


def _warmup_image() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), (128, 64, 32)).save(buffer, format="PNG")
    return buffer.getvalue()


class LoadedVersion:
    """One version of a model, loaded and warmed up; use :meth:`load` to make one.

    Attributes:
        name: Model name.
        version: Version number.
        manifest: The verified manifest.
        signature: Inputs and outputs.
        device: ``cpu`` or ``cuda``: where the session really runs.
        load_seconds: Time from the start of loading to the end of the warm-up.
        warmup_seconds: Time of the warm-up batch.
    """

    def __init__(self, name: str, version: int, manifest: Manifest, session: Any, device: str,
                 preprocessor: Preprocessor, load_seconds: float) -> None:
        self.name = name
        self.version = version
        self.manifest = manifest
        self.signature = Signature.from_manifest(manifest)
        self.device = device
        self.load_seconds = load_seconds
        self.warmup_seconds = 0.0
        self._session = session
        self._preprocessor = preprocessor
        self._output_names = [o.name for o in session.get_outputs()]
        spec = manifest.io.preprocess
        self._pad = ({name: (spec.pad_token_id if name == "input_ids" else 0)
                      for name in spec.input_names} if isinstance(spec, TextPreprocessSpec) else None)
        self._in_flight = 0
        self._idle: asyncio.Event | None = None

    @classmethod
    def load(cls, name: str, version: int, path: Path, config: HostConfig) -> "LoadedVersion":
        """Verify the bundle at ``path``, create its session and preprocessor, and warm it up.

        Raises:
            NotReadyError: The bundle fails verification, cannot be loaded, or the warm-up fails.
            DeviceUnavailableError: Configured for CUDA, the session does not run on CUDA.
        """
        start = time.perf_counter()
        try:
            manifest = verify_bundle(Path(path))
            preprocessor = build_preprocessor(manifest.io.preprocess, Path(path))
        except (ZhijianError, OSError) as exc:
            raise NotReadyError(f"version {version} of '{name}' cannot be loaded: {exc}") from exc
        session, device = create_session(Path(path) / MODEL, config)
        loaded = cls(name, version, manifest, session, device, preprocessor, 0.0)
        warm = time.perf_counter()
        loaded.warm_up(config.warmup_items)
        loaded.warmup_seconds = time.perf_counter() - warm
        loaded.load_seconds = time.perf_counter() - start
        return loaded

    @property
    def labels(self) -> tuple[str, ...]:
        """Class names (empty for an embedding model)."""
        return tuple(self.manifest.task.labels or ())

    def warm_up(self, items: int) -> None:
        """Run one raw batch of ``items`` items through preprocessing and the session.

        Raises:
            NotReadyError: The warm-up failed.
        """
        raw = ("warm up",) * items if self.signature.raw_kind == "text" else (_warmup_image(),) * items
        [result], _ = self.run([ModelInput(raw=raw)], [tuple(self._output_names)])
        if isinstance(result, BaseException):
            raise NotReadyError(f"version {self.version} of '{self.name}' failed its warm-up: "
                                f"{result}") from result

    # ---- in-flight accounting (event-loop side) ----------------------------------------------
    def enter(self) -> None:
        """Count a request in flight (call from the event loop, right after choosing this version)."""
        self._in_flight += 1
        if self._idle is not None:
            self._idle.clear()

    def exit(self) -> None:
        """Count a request done."""
        self._in_flight -= 1
        if self._in_flight == 0 and self._idle is not None:
            self._idle.set()

    @property
    def in_flight(self) -> int:
        """Requests in flight on this version."""
        return self._in_flight

    async def drain(self, timeout_s: float) -> bool:
        """Wait until no request is in flight; ``False`` when ``timeout_s`` passed first."""
        if self._in_flight == 0:
            return True
        self._idle = asyncio.Event()
        try:
            await asyncio.wait_for(self._idle.wait(), timeout_s)
            return True
        except TimeoutError:
            return False

    def release(self) -> None:
        """Drop the session (its memory goes with the last reference)."""
        self._session = None

    # ---- running (worker-thread side) --------------------------------------------------------
    def run(self, inputs: list[ModelInput], outputs: list[tuple[str, ...]]
            ) -> tuple[list[dict[str, np.ndarray] | ServiceError], RunTiming]:
        """Run a batch of bound inputs; return each one's outputs (or its error) and the timing.

        Args:
            inputs: One bound input per request.
            outputs: The output names each request asked for.
        """
        session = self._session  # held for the whole batch, even if released meanwhile
        if session is None:
            error = NotReadyError(f"version {self.version} of '{self.name}' was released")
            return [error] * len(inputs), RunTiming()
        timing = RunTiming()
        start = time.perf_counter_ns()
        results: list[Any] = [None] * len(inputs)
        tensors: dict[int, dict[str, np.ndarray]] = {}
        for index, item in enumerate(inputs):
            try:
                tensors[index] = (self._preprocessor(list(item.raw)) if item.raw is not None
                                  else {k: np.ascontiguousarray(v) for k, v in item.tensors.items()})
            except PreprocessError as exc:
                results[index] = InvalidInputError(str(exc))
            except Exception as exc:  # a decoder's own error on a crafted file: still the input's
                results[index] = InvalidInputError(f"input could not be preprocessed: {exc!r}")
        timing.compute_input_ns += time.perf_counter_ns() - start
        for group in self._groups(tensors):
            self._run_group(session, group, tensors, inputs, outputs, results, timing)
        return results, timing

    def _groups(self, tensors: dict[int, dict[str, np.ndarray]]) -> list[list[int]]:
        """Indices of requests that can share one ``session.run``."""
        groups: dict[Any, list[int]] = {}
        for index, arrays in tensors.items():
            key = "padded" if self._pad is not None and set(arrays) == set(self._pad) and all(
                a.ndim == 2 for a in arrays.values()) else tuple(
                (name, a.shape[1:]) for name, a in sorted(arrays.items()))
            groups.setdefault(key, []).append(index)
        return list(groups.values())

    def _merge(self, members: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
        merged = {}
        for name in members[0]:
            parts = [m[name] for m in members]
            if self._pad is not None and name in self._pad:
                width = max(p.shape[1] for p in parts)
                parts = [np.pad(p, ((0, 0), (0, width - p.shape[1])), constant_values=self._pad[name])
                         for p in parts]
            merged[name] = parts[0] if len(parts) == 1 else np.concatenate(parts)
        return merged

    def _run_group(self, session: Any, group: list[int], tensors: dict[int, dict[str, np.ndarray]],
                   inputs: list[ModelInput], outputs: list[tuple[str, ...]], results: list[Any],
                   timing: RunTiming) -> None:
        start = time.perf_counter_ns()
        feeds = self._merge([tensors[i] for i in group])
        rows = [len(next(iter(tensors[i].values()))) for i in group]
        timing.compute_input_ns += time.perf_counter_ns() - start
        start = time.perf_counter_ns()
        try:
            values = session.run(self._output_names, feeds)
        except Exception as exc:  # onnxruntime raises its own InvalidArgument/Fail types
            timing.compute_infer_ns += time.perf_counter_ns() - start
            if len(group) > 1:
                for index in group:  # isolate the request that makes the session fail
                    self._run_group(session, [index], tensors, inputs, outputs, results, timing)
                return
            raw = inputs[group[0]].raw is not None
            results[group[0]] = (ServiceError(f"version {self.version} failed on preprocessed "
                                              f"input: {exc}") if raw else
                                 InvalidInputError(f"the model rejected the input tensors: {exc}"))
            return
        timing.compute_infer_ns += time.perf_counter_ns() - start
        timing.runs += 1
        timing.items = max(timing.items, sum(rows))
        start = time.perf_counter_ns()
        by_name = dict(zip(self._output_names, values))
        offset = 0
        for index, count in zip(group, rows):
            results[index] = {name: np.ascontiguousarray(by_name[name][offset:offset + count])
                              for name in outputs[index]}
            offset += count
        timing.compute_output_ns += time.perf_counter_ns() - start

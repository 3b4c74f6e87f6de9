"""The model host core, without Ray: the versions of one model name, loaded, swapped and run.

A host keeps a table of the versions behind serving aliases (``production``, ``canary``,
``shadow``) and an LRU of up to ``lru_size`` other versions, loaded on their first request. When an
alias moves (:meth:`ModelHost.set_alias`, or :meth:`ModelHost.sync` with the registry), the new
version is loaded and warmed up in a worker thread while the old one keeps serving; the alias entry
is then switched in one assignment on the event loop, and the old version is released once its
in-flight requests have drained. :meth:`ModelHost.infer_batch` is the batched entry point (what
the deployment's batcher calls): one ``session.run`` per version and input shape in the batch.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from typing import Any

from services.errors import ServiceError, UnknownModelError, UnknownVersionError
from services.host.config import HostConfig
from services.host.loaded import LoadedVersion, RunTiming
from services.host.messages import HostRequest, HostResponse, Readiness, Target
from services.host.source import BundleSource
from services.host.stats import HostCounters, VersionStats
from services.metrics import CostMeter, Resources, metrics
from services.metrics.host import observe_batch, observe_load
from services.protocol.models import ModelMetadata
from services.protocol.signature import ModelInput

SERVING_ALIASES = ("production", "canary", "shadow")
"""Aliases whose versions a host keeps loaded."""
PRODUCTION = "production"
PLATFORM = "onnxruntime_onnx"


class ModelHost:
    """All served versions of one model name.

    Args:
        name: The model name.
        source: Where bundles and aliases come from.
        config: Loading and running settings.
        aliases: The aliases this host follows.
        meter: The replica's cost meter (default: one holding ``config.cpus`` CPUs, no GPU).
    """

    def __init__(self, name: str, source: BundleSource, config: HostConfig = HostConfig(),
                 aliases: tuple[str, ...] = SERVING_ALIASES,
                 meter: CostMeter | None = None) -> None:
        self.name = name
        self.config = config
        self.counters = HostCounters()
        self.meter = meter if meter is not None else CostMeter(name, f"host-{name}",
                                                               Resources(cpus=config.cpus))
        self._source = source
        self._aliases = aliases
        self._aliased: dict[str, LoadedVersion] = {}
        self._alias_errors: dict[str, ServiceError] = {}
        self._lru: OrderedDict[int, LoadedVersion] = OrderedDict()
        self._loading: dict[int, asyncio.Task[LoadedVersion]] = {}
        self._stats: dict[int, VersionStats] = {}
        self._swap_lock: asyncio.Lock | None = None
        self._background: set[asyncio.Future[Any]] = set()

    # ---- loading and swapping -----------------------------------------------------------------
    async def _load(self, version: int) -> LoadedVersion:
        start = time.perf_counter()
        try:
            path = await asyncio.to_thread(self._source.locate, self.name, version)
            loaded = await asyncio.to_thread(LoadedVersion.load, self.name, version, path, self.config)
        except ServiceError:
            self.counters.load_failures += 1
            observe_load(self.name, time.perf_counter() - start, None)
            raise
        finally:
            self._loading.pop(version, None)
        self.counters.loads += 1
        self.counters.load_seconds_total += loaded.load_seconds
        observe_load(self.name, loaded.load_seconds, loaded.warmup_seconds)
        self.meter.hosting(version)
        return loaded

    async def _load_once(self, version: int) -> LoadedVersion:
        """Load ``version``, sharing one load among all who ask for it meanwhile."""
        task = self._loading.get(version)
        if task is None:
            task = self._loading[version] = asyncio.ensure_future(self._load(version))
        return await asyncio.shield(task)

    def _loaded(self, version: int) -> LoadedVersion | None:
        for loaded in self._aliased.values():
            if loaded.version == version:
                return loaded
        return self._lru.get(version)

    def _in_use(self, loaded: LoadedVersion) -> bool:
        return any(v is loaded for v in self._aliased.values()) or self._lru.get(loaded.version) is loaded

    async def _retire(self, old: LoadedVersion) -> None:
        """Drain and release ``old`` unless an alias or the LRU still holds it."""
        if self._in_use(old):
            return
        await old.drain(self.config.drain_timeout_s)
        if not self._in_use(old):
            old.release()
            self.meter.released(old.version)

    async def set_alias(self, alias: str, version: int | None) -> None:
        """Point ``alias`` at ``version`` (``None``: unset it), hot-swapping without failed requests.

        Raises:
            ServiceError: The new version could not be loaded; the old one keeps serving and the
                reason is kept for readiness answers.
        """
        if self._swap_lock is None:
            self._swap_lock = asyncio.Lock()
        async with self._swap_lock:
            current = self._aliased.get(alias)
            if current is not None and current.version == version:
                return
            if version is None:
                self._aliased.pop(alias, None)
                self._alias_errors.pop(alias, None)
            else:
                new = self._loaded(version)
                if new is None:
                    try:
                        new = await self._load_once(version)
                    except ServiceError as exc:
                        self._alias_errors[alias] = exc
                        raise
                self._aliased[alias] = new  # the switch: one assignment on the event loop
                self._lru.pop(version, None)
                self._alias_errors.pop(alias, None)
                self.counters.swaps += 1
            if current is not None:
                await self._retire(current)

    async def sync(self) -> dict[str, int]:
        """Follow the source's aliases: load, swap or unset each serving alias.

        Returns:
            Alias to version now served. A version that failed to load leaves its alias on the
            old version (or unset), with the reason in :meth:`readiness`.

        Raises:
            ServiceError: The source could not be read (the registry is down, the model is gone).
        """
        wanted = await asyncio.to_thread(self._source.aliases, self.name)
        for alias in self._aliases:
            try:
                await self.set_alias(alias, wanted.get(alias))
            except ServiceError:
                continue  # recorded in _alias_errors; the other aliases still follow
        return self.traffic()

    def traffic(self) -> dict[str, int]:
        """Alias to the version now serving it."""
        return {alias: loaded.version for alias, loaded in self._aliased.items()}

    async def _version(self, version: int) -> LoadedVersion:
        """Version ``version``, from the alias table, the LRU, or loaded into the LRU."""
        found = self._loaded(version)
        if found is not None:
            if version in self._lru:
                self._lru.move_to_end(version)
                self.counters.cache_hits += 1
                metrics().lru_lookups.labels(self.name, "hit").inc()
            return found
        if self.config.lru_size == 0:
            raise UnknownVersionError(f"version {version} of '{self.name}' is not served: it has no "
                                      "serving alias and this host keeps no other versions (lru_size 0)")
        self.counters.cache_misses += 1
        metrics().lru_lookups.labels(self.name, "miss").inc()
        loaded = await self._load_once(version)
        if self._loaded(version) is None:
            self._lru[version] = loaded
            while len(self._lru) > self.config.lru_size:
                _, evicted = self._lru.popitem(last=False)
                self.counters.evictions += 1
                metrics().lru_evictions.labels(self.name).inc()
                retire = asyncio.ensure_future(self._retire(evicted))
                self._background.add(retire)
                retire.add_done_callback(self._background.discard)
        return self._loaded(version) or loaded

    async def _resolve(self, target: Target) -> LoadedVersion:
        if target.alias is None:
            return await self._version(target.version)  # type: ignore[arg-type]
        loaded = self._aliased.get(target.alias)
        if loaded is not None:
            return loaded
        error = self._alias_errors.get(target.alias)
        if error is not None:  # the same class (DeviceUnavailableError ...), so the same status
            raise type(error)(f"'{self.name}' {target.alias} is not ready: {error}") from error
        raise UnknownVersionError(f"model '{self.name}' serves no version as {target.alias!r}")

    # ---- inference ----------------------------------------------------------------------------
    async def infer_batch(self, requests: list[HostRequest], queued_s: list[float] | None = None
                          ) -> list[HostResponse | ServiceError]:
        """Answer a batch of requests: one ``session.run`` per version (and input shape) among them.

        Args:
            requests: The batch.
            queued_s: Seconds each request waited for its batch (Ray Serve's batcher), if known.

        Returns:
            One answer per request, in order: its response, or the error that refused it.
        """
        results: list[Any] = [None] * len(requests)
        groups: dict[int, tuple[LoadedVersion, list[int], list[ModelInput], list[tuple[str, ...]]]] = {}
        for index, request in enumerate(requests):
            try:
                loaded = await self._resolve(request.target)
                bound = loaded.signature.bind(request.inputs, self.config.max_items)
                outputs = loaded.signature.check_outputs(request.outputs)
            except ServiceError as exc:
                results[index] = exc
                continue
            loaded.enter()  # no await between resolving and entering: a swap drains this request
            group = groups.setdefault(id(loaded), (loaded, [], [], []))
            group[1].append(index)
            group[2].append(bound)
            group[3].append(outputs)
        for loaded, indices, inputs, outputs in groups.values():
            start = time.perf_counter_ns()
            # Shielded: a caller's deadline cancels its wait, not the run; the in-flight count
            # drops when the worker thread is really done, so a swap never releases a busy session.
            work = asyncio.ensure_future(self._run(loaded, len(indices), inputs, outputs))
            self._background.add(work)
            work.add_done_callback(self._background.discard)
            answers, timing = await asyncio.shield(work)
            failed = sum(isinstance(a, BaseException) for a in answers)
            items = sum(i.items for i, a in zip(inputs, answers) if not isinstance(a, BaseException))
            self._stats.setdefault(loaded.version, VersionStats()).record(
                timing, len(indices), failed, items, time.perf_counter_ns() - start)
            self._observe(loaded, timing, len(indices), failed,
                          [queued_s[i] for i in indices] if queued_s is not None else [])
            stages = (("input", timing.compute_input_ns / 1e6),
                      ("infer", timing.compute_infer_ns / 1e6),
                      ("output", timing.compute_output_ns / 1e6))
            for index, answer in zip(indices, answers):
                queued = (("queue", queued_s[index] * 1e3),) if queued_s is not None else ()
                results[index] = answer if isinstance(answer, BaseException) else HostResponse(
                    version=loaded.version, outputs=answer, batch_items=timing.items,
                    task=loaded.manifest.task.kind, labels=loaded.labels, timing=queued + stages)
        return results

    def _observe(self, loaded: LoadedVersion, timing: RunTiming, requests: int, failed: int,
                 queued_s: list[float]) -> None:
        """Metrics and cost of one version's share of a batch."""
        stages = (timing.compute_input_ns / 1e9, timing.compute_infer_ns / 1e9,
                  timing.compute_output_ns / 1e9)
        observe_batch(self.name, loaded.version, loaded.device, requests, failed, *stages, queued_s)
        self.meter.record(loaded.version, sum(stages),
                          stages[1] if loaded.device == "cuda" else 0.0)

    @staticmethod
    async def _run(loaded: LoadedVersion, count: int, inputs: list[ModelInput],
                   outputs: list[tuple[str, ...]]) -> tuple[list[Any], Any]:
        try:
            return await asyncio.to_thread(loaded.run, inputs, outputs)
        finally:
            for _ in range(count):
                loaded.exit()

    async def infer(self, request: HostRequest) -> HostResponse:
        """Answer one request (a batch of one).

        Raises:
            ServiceError: The request was refused (bad input, unknown version, not ready).
        """
        [answer] = await self.infer_batch([request])
        if isinstance(answer, BaseException):
            raise answer
        return answer

    # ---- metadata, readiness, statistics ------------------------------------------------------
    async def _describe(self, version: int | None) -> LoadedVersion:
        return await self._resolve(Target(alias=PRODUCTION) if version is None else Target(version=version))

    async def readiness(self, version: int | None = None) -> Readiness:
        """Whether production (or ``version``, loaded on demand) can answer, and why not.

        Raises:
            UnknownVersionError: ``version`` does not exist (production missing is only not ready).
        """
        try:
            await self._describe(version)
        except UnknownModelError:
            if version is not None:
                raise
            return Readiness(False, f"'{self.name}' has no production version", self.traffic())
        except ServiceError as exc:
            return Readiness(False, str(exc), self.traffic())
        return Readiness(True, "", self.traffic())

    async def preflight(self, version: int) -> Readiness:
        """Whether ``version`` verifies, loads and warms up here, as an alias move would need,
        without serving it: the check a promotion gets before the registry commits it.

        A version already loaded passes at once. A fresh load stays in the LRU when the host keeps
        one (so that the alias move that follows finds it loaded), else it is released.
        """
        if self._loaded(version) is not None:
            return Readiness(True, "", self.traffic())
        try:
            if self.config.lru_size > 0:
                await self._version(version)
            else:
                loaded = await self._load_once(version)
                if not self._in_use(loaded):
                    loaded.release()
                    self.meter.released(version)
        except ServiceError as exc:
            return Readiness(False, f"version {version} of '{self.name}' cannot serve here: {exc}",
                             self.traffic())
        return Readiness(True, "", self.traffic())

    async def metadata(self, version: int | None = None) -> ModelMetadata:
        """OIP model metadata of production (or ``version``)."""
        loaded = await self._describe(version)
        served = sorted({v.version for v in self._aliased.values()} | set(self._lru))
        signature = loaded.signature
        return ModelMetadata(
            name=self.name, versions=[str(v) for v in served], platform=PLATFORM,
            inputs=signature.metadata_inputs(), outputs=[t.metadata() for t in signature.outputs],
            parameters={**signature.metadata_parameters(), "version": loaded.version,
                        "task": loaded.manifest.task.kind, "labels": list(loaded.labels),
                        "device": loaded.device, "aliases": self.traffic()})

    async def statistics(self, version: int | None = None) -> dict[str, Any]:
        """Triton-style statistics of every version answered so far (or of ``version``), and the
        host's load and cache counters under ``host``."""
        if version is not None and version not in self._stats and self._loaded(version) is None:
            await asyncio.to_thread(self._source.locate, self.name, version)  # 404 when unknown
        versions = sorted(self._stats) if version is None else [version]
        return {"model_stats": [self._stats.get(v, VersionStats()).triton(self.name, v)
                                for v in versions],
                "host": self.counters.as_dict()}

    async def close(self) -> None:
        """Release every loaded version (after draining)."""
        loaded = list(self._aliased.values()) + list(self._lru.values())
        self._aliased.clear()
        self._lru.clear()
        for item in loaded:
            await self._retire(item)
        self.meter.close()

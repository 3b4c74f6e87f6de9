"""What a model host records per batch and per load (called from its event loop)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from services.metrics.catalog import metrics


def device_label(device: str) -> str:
    """The ``device`` label of where a session runs (``cuda`` is ``gpu``)."""
    return "gpu" if device == "cuda" else "cpu"


@lru_cache(maxsize=1024)
def _series(model: str, version: int, device: str) -> tuple[Any, ...]:
    """The labelled series of one version, looked up once (``labels()`` takes a lock each time)."""
    m = metrics()
    key = str(version)
    return (m.batch_size.labels(model, key), m.inferences.labels(model, key, "success"),
            m.inferences.labels(model, key, "failure"),
            *(m.stage_duration.labels(model, key, stage)
              for stage in ("queue", "preprocess", "inference", "postprocess")),
            m.compute.labels(model, key, device_label(device)))


def observe_batch(model: str, version: int, device: str, requests: int, failed: int,
                  preprocess_s: float, inference_s: float, postprocess_s: float,
                  queued_s: list[float]) -> None:
    """One version's share of a batch: its requests, stage times, compute time and queue waits."""
    batch, success, failure, queue, preprocess, inference, postprocess, compute = _series(
        model, version, device)
    batch.observe(requests)
    if requests > failed:
        success.inc(requests - failed)
    if failed:
        failure.inc(failed)
    preprocess.observe(preprocess_s)
    inference.observe(inference_s)
    postprocess.observe(postprocess_s)
    for seconds in queued_s:
        queue.observe(seconds)
    compute.inc(inference_s)


def observe_load(model: str, seconds: float, warmup_s: float | None) -> None:
    """A version's load: its time, and its warm-up's (``None``: the load failed)."""
    m = metrics()
    m.load_duration.labels(model, "failure" if warmup_s is None else "success").observe(seconds)
    if warmup_s is not None:
        m.warmup_duration.labels(model).observe(warmup_s)

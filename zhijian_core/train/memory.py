"""Peak memory of a piece of work: sampled process RSS on the CPU, the allocator's peak on CUDA.

Importing this module imports no torch (the baselines measure memory without it).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import gc
import threading
from types import TracebackType
from typing import TYPE_CHECKING, Callable

from zhijian_core.errors import MissingDependencyError

if TYPE_CHECKING:
    import torch


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``, or ``None`` where the C library has none (looked up once)."""
    name = ctypes.util.find_library("c")
    return None if name is None else getattr(ctypes.CDLL(name), "malloc_trim", None)


def release_free_memory() -> None:
    """Collect garbage and hand the C allocator's free pages back to the system (glibc's
    ``malloc_trim``; a no-op where there is none), so that the RSS counts live memory only."""
    gc.collect()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


class PeakRss:
    """Context manager sampling the process's resident memory in a thread to find its peak.

    ``peak_mb`` is the peak RSS above the RSS on entry, in MiB. On entry the process's free memory
    is first handed back (:func:`release_free_memory`): otherwise work that follows a bigger piece
    of work in the same process reuses the pages that one freed, and its peak reads as nearly zero.
    A peak shorter than the sampling interval may be missed, so it is a lower bound on what the
    work needed.

    Args:
        interval_s: Seconds between samples.
    """

    def __init__(self, interval_s: float = 0.005) -> None:
        self.interval_s = interval_s
        self.peak_mb = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._base = 0
        self._peak = 0

    def __enter__(self) -> "PeakRss":
        try:
            import psutil
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise MissingDependencyError("measuring memory needs psutil: pip install 'zhijian[train]'") from exc
        process = psutil.Process()
        release_free_memory()
        self._base = self._peak = process.memory_info().rss

        def sample() -> None:
            while not self._stop.is_set():
                self._peak = max(self._peak, process.memory_info().rss)
                self._stop.wait(self.interval_s)

        self._thread = threading.Thread(target=sample, name="zhijian-peak-rss", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.peak_mb = max(0, self._peak - self._base) / 2**20


class PeakMemory:
    """Peak extra memory of the work inside it, in MiB, on ``device``.

    On the CPU it is :class:`PeakRss`; on CUDA it reads ``torch.cuda.max_memory_allocated`` (the
    peak over the memory allocated at entry).
    """

    def __init__(self, device: "torch.device") -> None:
        self.device = device
        self.peak_mb = 0.0
        self._rss = PeakRss(interval_s=0.02)
        self._baseline = 0

    def __enter__(self) -> "PeakMemory":
        if self.device.type == "cuda":
            import torch

            torch.cuda.reset_peak_memory_stats(self.device)
            self._baseline = torch.cuda.memory_allocated(self.device)
        else:
            self._rss.__enter__()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self.device.type == "cuda":
            import torch

            peak = torch.cuda.max_memory_allocated(self.device)
            self.peak_mb = max(0, peak - self._baseline) / 2**20
        else:
            self._rss.__exit__(exc_type, exc, tb)
            self.peak_mb = self._rss.peak_mb

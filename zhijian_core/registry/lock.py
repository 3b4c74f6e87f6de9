"""The registry's writer lock: an exclusive ``fcntl.flock`` on a file beside the local store.

The operating system releases the lock when its process exits, so a killed writer never leaves a
stale lock behind. With a tracking server the lock only orders the writers of one machine: there the
service's admin API is the single writer and other clients go through it.
"""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path
from types import TracebackType

from zhijian_core.errors import RegistryLockError

_POLL_S = 0.05


class WriterLock:
    """An exclusive lock on ``path``, taken with ``with`` (blocking up to ``timeout_s``) or
    :meth:`try_acquire` (not blocking).

    Args:
        path: The lock file; created when missing.
        timeout_s: Longest wait for ``with`` before :class:`RegistryLockError`.
    """

    def __init__(self, path: Path, timeout_s: float = 30.0) -> None:
        self.path = Path(path)
        self.timeout_s = timeout_s
        self._fd: int | None = None

    def try_acquire(self) -> bool:
        """Take the lock if it is free; return whether it was taken."""
        if self._fd is not None:
            raise RegistryLockError(f"the writer lock {self.path} is already held by this object")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        return True

    def acquire(self) -> None:
        """Take the lock, waiting up to ``timeout_s``.

        Raises:
            RegistryLockError: Another process held it for the whole timeout.
        """
        deadline = time.monotonic() + self.timeout_s
        while not self.try_acquire():
            if time.monotonic() >= deadline:
                raise RegistryLockError(
                    f"another registry writer has held {self.path} for more than {self.timeout_s:g} s; "
                    "wait for it to finish and retry (the lock is released when its process exits)")
            time.sleep(_POLL_S)

    def release(self) -> None:
        """Release the lock (nothing happens when it is not held)."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            try:
                fcntl.flock(fd, fcntl.LOCK_UN)
            finally:
                os.close(fd)

    def __enter__(self) -> "WriterLock":
        self.acquire()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()

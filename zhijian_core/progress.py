"""Progress bars for long work (training epochs, feature extraction), shown on standard error."""

from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import Iterator, Protocol


class Advance(Protocol):
    """Callable that advances a progress bar by ``n`` steps."""

    def __call__(self, n: int = 1) -> None: ...


_enabled = True


def set_progress_enabled(enabled: bool) -> None:
    """Turn progress bars on or off for this process (the CLI's ``--quiet`` turns them off)."""
    global _enabled
    _enabled = enabled


@contextmanager
def progress(description: str, total: int | None) -> Iterator[Advance]:
    """A transient progress bar on a terminal; silent when stderr is not one or bars are disabled."""
    if not (_enabled and sys.stderr.isatty()):
        yield lambda n=1: None
        return
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                               TimeElapsedColumn, TimeRemainingColumn)

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn(), TimeRemainingColumn())
    with Progress(*columns, transient=True) as bar:
        task = bar.add_task(description, total=total)
        yield lambda n=1: bar.advance(task, n)

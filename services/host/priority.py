"""CPU priority of a model host replica: compute yields the CPU to the gateway.

On a saturated node every runnable thread gets an equal share of the CPU, so a host's inference
threads and the gateway's single event-loop thread wait their turn alike. Under overload that
turns the gateway's cheap refusals into slow ones: the event loop gets half a core or less, the
requests it has not read yet queue in the kernel, and a 429 that costs 0.1 ms of work is answered
after hundreds of milliseconds (measured by ``benchmarks/reliability.py``). With the host's
threads a few levels nicer, the gateway, health checks and metrics run first and inference takes
every cycle they leave, so nothing changes while the node has CPU to spare.
"""

from __future__ import annotations

import os
from pathlib import Path

TASKS = Path("/proc/self/task")
"""Linux lists a process's threads here; niceness is per thread there."""


def lower_priority(levels: int) -> int:
    """Add ``levels`` to the niceness of every thread of this process (threads created later
    inherit it from the thread that creates them); return the number of threads changed.

    Where threads cannot be listed (not Linux), the process' own niceness is raised instead.
    Raising niceness needs no privilege; a thread that ended meanwhile is skipped.
    """
    if levels <= 0:
        return 0
    if not TASKS.is_dir():
        os.nice(levels)
        return 1
    changed = 0
    for entry in TASKS.iterdir():
        tid = int(entry.name)
        try:
            current = os.getpriority(os.PRIO_PROCESS, tid)
            os.setpriority(os.PRIO_PROCESS, tid, min(19, current + levels))
            changed += 1
        except (ProcessLookupError, PermissionError):
            continue
    return changed

"""A host replica's threads yield the CPU: every thread of the process gets nicer, and threads
started afterwards inherit it."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from services.host.config import HostConfig

SCRIPT = textwrap.dedent("""
    import os, threading
    from services.host.priority import lower_priority

    def niceness():
        found = {}
        for t in os.listdir("/proc/self/task"):
            try:  # a thread that has just ended (a joined one) can still be listed
                found[int(t)] = os.getpriority(os.PRIO_PROCESS, int(t))
            except ProcessLookupError:
                pass
        return found

    ready, done = threading.Event(), threading.Event()
    worker = threading.Thread(target=lambda: (ready.set(), done.wait()), daemon=True)
    worker.start(); ready.wait()
    before = niceness()
    changed = lower_priority(7)
    later = {}
    def record():
        later["nice"] = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    t = threading.Thread(target=record); t.start(); t.join()
    after = niceness()
    done.set(); worker.join()
    print(changed, len(before), all(after[tid] == min(19, before[tid] + 7) for tid in before
                                    if tid in after),
          later["nice"] == min(19, before[threading.get_native_id()] + 7), lower_priority(0))
""")


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="threads are listed on Linux")
@pytest.mark.timeout(60)
def test_every_thread_and_later_ones_get_nicer() -> None:
    # in a child process: niceness cannot be lowered back without privileges
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                         check=True, timeout=50).stdout.split()
    changed, threads, all_nicer, inherited, nothing = out
    assert int(changed) == int(threads) >= 2
    assert all_nicer == "True" and inherited == "True" and nothing == "0"


def test_host_replicas_yield_by_default_and_can_opt_out() -> None:
    assert HostConfig().nice == 10
    assert HostConfig(nice=0).nice == 0
    with pytest.raises(ValueError):
        HostConfig(nice=20)

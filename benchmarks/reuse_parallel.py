"""Run the benchmark's (recipe, seed) jobs in worker processes side by side on one machine.

Each job is ``python -m benchmarks.reuse --recipe R --seed S --out PARTS`` in a process of its own,
with ``cpus // jobs`` torch threads (at least one); at most ``jobs`` run at once, taken in the order
given. Seeds are independent, so they need not wait for one another; the processes share the cores,
so training seconds compare methods within one table, not with a run made otherwise.

The caller joins each recipe's parts (:func:`benchmarks.reuse.join_parts`); a failed job leaves its
folder and ``log.txt`` and raises :class:`JobFailed`.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Sequence

POLL_S = 1.0


class JobFailed(RuntimeError):
    """A worker process exited with an error; its log names the cause."""


@dataclass
class Job:
    """One seed of one recipe, written to ``folder`` (``folder/<recipe>/results.json``)."""

    recipe: str
    seed: int
    folder: Path
    started: float = 0.0
    ended: float = 0.0
    process: "subprocess.Popen[bytes] | None" = field(default=None, repr=False)
    log: "IO[bytes] | None" = field(default=None, repr=False)

    def command(self) -> list[str]:
        return [sys.executable, "-m", "benchmarks.reuse", "--recipe", self.recipe,
                "--seed", str(self.seed), "--out", str(self.folder)]

    def start(self, env: dict[str, str], cwd: Path) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.log = (self.folder / "log.txt").open("wb")
        self.started = time.time()
        self.process = subprocess.Popen(self.command(), cwd=cwd, env=env, stdout=self.log,
                                        stderr=subprocess.STDOUT)
        print(f"started {self.recipe} seed {self.seed} (pid {self.process.pid}, log "
              f"{self.folder / 'log.txt'})", flush=True)

    def poll(self) -> int | None:
        assert self.process is not None and self.log is not None
        code = self.process.poll()
        if code is not None:
            self.ended = time.time()
            self.log.close()
            print(f"{self.recipe} seed {self.seed} ended with {code} after "
                  f"{self.ended - self.started:.0f} s", flush=True)
        return code

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait()
        if self.log is not None:
            self.log.close()


def threads_per_job(jobs: int, cpus: int | None = None) -> int:
    """Torch threads for each of ``jobs`` processes sharing ``cpus`` cores (at least one)."""
    return max(1, (cpus or os.cpu_count() or 1) // jobs)


def run_jobs(recipes: Sequence[str], seeds: Sequence[int], parts: Path, jobs: int,
             cwd: Path) -> dict[str, list[Job]]:
    """Run every (recipe, seed) with at most ``jobs`` processes at once; the finished jobs by
    recipe. Raises :class:`JobFailed` when one fails (the others are let finish)."""
    threads = str(threads_per_job(jobs))
    env = {**os.environ, "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads}
    pending = [Job(recipe, seed, parts / f"{recipe}-seed{seed}")
               for recipe in recipes for seed in seeds]
    done: dict[str, list[Job]] = {recipe: [] for recipe in recipes}
    running: list[Job] = []
    failed: list[str] = []
    try:
        while pending or running:
            while pending and len(running) < jobs:
                job = pending.pop(0)
                job.start(env, cwd)
                running.append(job)
            time.sleep(POLL_S)
            for job in list(running):
                code = job.poll()
                if code is None:
                    continue
                running.remove(job)
                if code == 0:
                    done[job.recipe].append(job)
                else:
                    failed.append(f"{job.recipe} seed {job.seed} (exit {code}, log "
                                  f"{job.folder / 'log.txt'})")
    finally:
        for job in running:
            job.stop()
    if failed:
        raise JobFailed("benchmark jobs failed: " + "; ".join(failed))
    return done

"""Benchmark of every reuse method: quality and cost over 3 seeds, with the paper claims checked.

Runs ``recipes/tweets-all.yaml`` (MiniLM-L6 on airline tweets, with the two-task tweet setting for
the merges) and ``recipes/fashion-all.yaml`` (EfficientNet-Lite0 on Fashion-MNIST at 64 px, with
its two 5-class halves), every registered method that applies. A method that does not apply to the
backbone is skipped, and the summary shows the applicability error's message. Per recipe it writes
``benchmarks/results/<recipe>/``: ``results.json`` (every run), one leaderboard per dataset
(``<dataset>/leaderboard.{json,md,png}``: quality, trainable parameters, training seconds, peak
memory, latency, the Pareto picture) and ``summary.md`` with every leaderboard and the claims (see
:mod:`benchmarks.reuse_claims`), under the one rule: "A beats B" holds iff mean(A) − mean(B)
exceeds the larger of their standard deviations over seeds.

    .venv/bin/python -m benchmarks.reuse [--recipe tweets-all] [--seeds 3] [--quick] [--out DIR]
    .venv/bin/python -m benchmarks.reuse --jobs 3   # one process per seed, 3 at a time, joined
    .venv/bin/python -m benchmarks.reuse --recipe tweets-all --summarize   # from results.json
    .venv/bin/python -m benchmarks.reuse --recipe tweets-all --seed 2 --out /tmp/s2  # one seed
    .venv/bin/python -m benchmarks.reuse --recipe tweets-all --summarize --join /tmp/s2

This is a benchmark, not a test: the full run (``--jobs 3``, what ``make benchmark`` runs; see
:mod:`benchmarks.reuse_parallel`) takes up to 2 hours on 2 CPU cores; ``--quick`` (1
seed, small splits, 1 epoch, every method; see :mod:`benchmarks.reuse_quick`) at most 15 minutes,
written to ``benchmarks/results/quick/``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import time
from pathlib import Path
from typing import Sequence

from benchmarks.reuse_claims import check_claims
from benchmarks.reuse_parallel import Job, run_jobs, threads_per_job
from benchmarks.reuse_quick import describe, quick_config
from zhijian_core.compare.leaderboard import render_markdown, write_leaderboard
from zhijian_core.compare.stats import aggregate
from zhijian_core.experiment.config import ExperimentConfig, load_recipe
from zhijian_core.experiment.runner import run_experiment
from zhijian_core.experiment.session import Session, resolve_device
from zhijian_core.train.result import RunResult

ROOT = Path(__file__).resolve().parents[1]
RECIPES = ("tweets-all", "fashion-all")
"""The benchmark's recipes (any recipe under ``recipes/`` may be named with ``--recipe``)."""


class _Log:
    """Collects the runs and the skipped methods of one recipe, and checkpoints them to disk."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir
        self.results: list[RunResult] = []
        self.skipped: dict[str, str] = {}
        self.started = time.time()

    @classmethod
    def load(cls, out_dir: Path, joined: Sequence[Path] = (), own: bool = True) -> "_Log":
        """The runs and skipped methods a (possibly unfinished) run wrote to ``results.json``, with
        those of the same recipe's runs in ``joined`` folders (other seeds run in other processes)
        that ``out_dir`` lacks (by run label, dataset and seed); without ``own``, ``out_dir``'s
        own ``results.json`` is not read (it is written anew from the joined folders)."""
        log = cls(out_dir)
        for folder in ((out_dir,) if own else ()) + tuple(joined):
            saved = json.loads((folder / "results.json").read_text())
            runs = [RunResult.model_validate(run) for run in saved["runs"]]
            have = {(run.display, run.dataset, run.seed) for run in log.results}
            log.results += [run for run in runs if (run.display, run.dataset, run.seed) not in have]
            log.skipped = {**saved["skipped"], **log.skipped}
        return log

    def elapsed(self) -> float:
        return time.time() - self.started

    def add(self, result: RunResult) -> None:
        self.results.append(result)
        print(f"[{self.elapsed():6.0f}s] {result.display} seed {result.seed}: macro-F1 "
              f"{result.quality.macro_f1:.3f}, train {result.cost.train_seconds:.1f} s, peak "
              f"{result.cost.peak_memory_mb:.0f} MB", flush=True)
        self._save()

    def skip(self, label: str, reason: str) -> None:
        self.skipped[label] = reason
        print(f"[{self.elapsed():6.0f}s] {label} skipped: {reason}", flush=True)
        self._save()

    def _save(self) -> None:
        (self.out_dir / "results.json").write_text(json.dumps(
            {"runs": [r.model_dump(mode="json") for r in self.results], "skipped": self.skipped},
            indent=1))


def run_all(config: ExperimentConfig, log: _Log) -> None:
    """Every seed: the baselines, then every method in order; a method that does not apply to its
    backbone is recorded as skipped (with the error's message) and not tried again."""
    run_experiment(config, Session(config, None, resolve_device(config.device)),
                   on_result=log.add, on_skip=lambda spec, exc: log.skip(spec.display, str(exc)))


def _machine(threads: int | None = None) -> str:
    import torch

    return (f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch "
            f"{torch.__version__} with {threads or torch.get_num_threads()} threads")


def summarize(config: ExperimentConfig, log: _Log, command: str, quick: bool,
              wall: str | None = None, threads: int | None = None) -> str:
    """Write one leaderboard per dataset and ``summary.md`` in the log's folder, print the summary
    and return it (Markdown)."""
    wall = wall or f"wall time {log.elapsed():.0f} s"
    by_dataset: dict[str, list[RunResult]] = {}
    for run in log.results:
        by_dataset.setdefault(run.dataset, []).append(run)
    seeds = len(config.seeds)
    lines = [f"# Benchmark: {config.name}", "",
             f"Command: `{command}`", f"Machine: {_machine(threads)}; {wall}.", ""]
    if quick:
        lines += [describe(), ""]
    lines += ["Figures are mean ± sample std over seeds. A claim \"A beats B\" holds iff "
              "mean(A) − mean(B) > max(std(A), std(B)).", ""]
    for dataset, runs in by_dataset.items():
        board = write_leaderboard(runs, log.out_dir / dataset,
                                  title=f"{config.name}: {dataset}, {seeds} seed(s)")
        lines += [render_markdown(board, image=f"{dataset}/leaderboard.png").replace("# ", "## ", 1),
                  ""]
    lines += ["## Skipped: not applicable to the backbone", ""]
    lines += [f"- {label}: {reason}" for label, reason in log.skipped.items()] or ["- none"]
    lines.append("")
    entries = {entry.name: entry for entry in aggregate(log.results)}
    for title, claims in check_claims(entries, log.results, log.skipped).items():
        lines += [f"## Claim: {title}", ""]
        if seeds < 2:
            lines.append("- (one seed: no spread, so every difference counts; a weak check)")
        lines += [f"- {line}" for line in claims] + [""]
    summary = "\n".join(lines)
    (log.out_dir / "summary.md").write_text(summary)
    print(summary, flush=True)
    return summary


def _recipe(recipe: str, seeds: Sequence[int], out_root: Path, quick: bool = False
            ) -> tuple[ExperimentConfig, Path]:
    """The recipe's config with ``seeds`` (with ``quick``: its quick variant instead), and its
    output folder (created)."""
    config = load_recipe(ROOT / "recipes" / f"{recipe}.yaml")
    config = (quick_config(config) if quick
              else config.model_copy(update={"seeds": list(seeds)}))
    out_dir = out_root / recipe
    out_dir.mkdir(parents=True, exist_ok=True)
    return config, out_dir


def run(recipe: str, seeds: Sequence[int], out_root: Path, quick: bool, saved: bool = False,
        joined: Sequence[Path] = ()) -> Path:
    """Run one recipe and write its results (with ``saved``: summarize the runs already in its
    ``results.json`` instead, say of a run that was stopped, joined with the other seeds' in the
    ``joined`` output roots); return the output folder."""
    config, out_dir = _recipe(recipe, seeds, out_root, quick)
    command = (f".venv/bin/python -m benchmarks.reuse --recipe {recipe}"
               + (" --quick" if quick else f" --seeds {len(seeds)}"))
    if saved:
        log = _Log.load(out_dir, [root / recipe for root in joined])
        wall = f"summarized from results.json ({len(log.results)} runs)"
    else:
        log, wall = _Log(out_dir), None
        if quick:
            print(describe(), flush=True)
        run_all(config, log)
    summarize(config, log, command, quick, wall)
    return out_dir


def join_parts(recipe: str, seeds: Sequence[int], out_root: Path, jobs: Sequence[Job],
               workers: int) -> Path:
    """Join the seeds that :func:`benchmarks.reuse_parallel.run_jobs` ran into ``out_root/recipe``
    (results.json, leaderboards, summary), then remove the parts; return the output folder."""
    config, out_dir = _recipe(recipe, seeds, out_root)
    log = _Log.load(out_dir, [job.folder / recipe for job in jobs], own=False)
    log._save()
    threads = threads_per_job(workers)
    wall = (f"wall time {max(j.ended for j in jobs) - min(j.started for j in jobs):.0f} s, one "
            f"process per seed, {workers} at a time")
    command = (f".venv/bin/python -m benchmarks.reuse --recipe {recipe} --seeds {len(seeds)} "
               f"--jobs {workers}")
    summarize(config, log, command, False, wall, threads)
    for job in jobs:
        shutil.rmtree(job.folder)
    return out_dir


def main() -> None:
    """Command-line entry."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--recipe", action="append",
                        help=f"recipe under recipes/ to run (repeatable; default: {', '.join(RECIPES)})")
    parser.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1 (ignored with --quick)")
    parser.add_argument("--quick", action="store_true",
                        help="1 seed, small splits, 1 epoch: checks the benchmark in minutes")
    parser.add_argument("--seed", type=int, action="append",
                        help="run only this seed (repeatable; instead of --seeds): seeds can run "
                             "in separate processes, then be joined with --summarize --join")
    parser.add_argument("--join", type=Path, action="append", default=[],
                        help="with --summarize: another output folder whose runs of other seeds "
                             "join this one's (repeatable)")
    parser.add_argument("--summarize", action="store_true",
                        help="write the leaderboards and summary from the saved results.json only")
    parser.add_argument("--jobs", type=int, default=1,
                        help="run the seeds of every recipe in this many worker processes at "
                             "once (each with CPUs / jobs torch threads), then join them")
    parser.add_argument("--out", type=Path, default=None,
                        help="output folder (default benchmarks/results, or benchmarks/results/quick)")
    args = parser.parse_args()
    out = args.out or ROOT / "benchmarks" / "results" / ("quick" if args.quick else "")
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")
    if args.jobs > 1 and (args.quick or args.summarize):
        parser.error("--jobs runs seeds in parallel: not with --quick or --summarize")
    started = time.time()
    recipes, seeds = args.recipe or list(RECIPES), args.seed or list(range(args.seeds))
    if args.jobs > 1:
        parts = out / ".parts"
        done = run_jobs(recipes, seeds, parts, args.jobs, ROOT)
        for name in recipes:
            join_parts(name, seeds, out, done[name], args.jobs)
        if not any(parts.iterdir()):
            parts.rmdir()
    else:
        for name in recipes:
            run(name, seeds, out, args.quick, saved=args.summarize, joined=args.join)
    print(f"benchmark done in {time.time() - started:.0f} s", flush=True)


if __name__ == "__main__":
    main()

"""Benchmark of the first reuse methods: quality and cost over 3 seeds, with the claims checked.

Runs the recipes ``recipes/tweets-minilm.yaml`` (MiniLM-L6 on airline tweets) and
``recipes/fashion-effnet.yaml`` (EfficientNet-Lite0 on Fashion-MNIST, 64 px) and writes, per recipe,
``benchmarks/results/<name>/``: ``results.json`` (every run), ``leaderboard.{json,md,png}`` and
``summary.md`` with each claim of the issue evaluated under the one rule: "A beats B" holds iff
mean(A) − mean(B) exceeds the larger of their standard deviations over seeds.

    .venv/bin/python -m benchmarks.reuse [--recipe tweets-minilm] [--seeds 3] [--out DIR]

This is a benchmark, not a test: it takes about an hour on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

from zhijian_core.compare.leaderboard import render_markdown, write_leaderboard
from zhijian_core.compare.stats import Entry, aggregate, beats, faster
from zhijian_core.experiment.config import load_recipe
from zhijian_core.experiment.runner import run_experiment
from zhijian_core.experiment.session import Session, resolve_device
from zhijian_core.runs.store import RunStore
from zhijian_core.train.result import RunResult

ROOT = Path(__file__).resolve().parents[1]
RECIPES = ("tweets-minilm", "fashion-effnet")


def _claims_tweets(entries: dict[str, Entry]) -> list[str]:
    lines = []
    for name in ("full_finetune", "lora"):
        lines.append(beats(entries[name], entries["tfidf_logreg"]).text)
        mean = entries[name].macro_f1.mean
        lines.append(f"{name} mean macro-F1 {mean:.3f} {'>=' if mean >= 0.75 else '<'} 0.75")
    lora = entries["lora"]
    lines.append(f"lora trains {lora.trainable_fraction:.2%} of the parameters "
                 f"({'at most' if lora.trainable_fraction <= 0.01 else 'more than'} 1%)")
    lines.append(faster(lora, entries["full_finetune"], "epoch_seconds").text)
    lines.append(beats(entries["ncm@16shot"], entries["tfidf_logreg@16shot"]).text)
    student, distilled = entries["full_finetune@minilm-l3"], entries["kd@minilm-l3"]
    lines.append(beats(distilled, student).text)
    lines.append(beats(student, distilled).text)
    lines.append(faster(distilled, entries["full_finetune"], "latency_ms_b1").text)
    lines.append(faster(distilled, entries["full_finetune"], "throughput_b32").text)
    return lines


def _claims_images(entries: dict[str, Entry]) -> list[str]:
    return [beats(entry, entries["pixels_logreg"]).text
            for name, entry in entries.items() if entry.family not in ("baseline",)]


CLAIMS = {"tweets-minilm": _claims_tweets, "fashion-effnet": _claims_images}


def run(recipe_name: str, seeds: int, out_root: Path) -> Path:
    """Run one recipe with ``seeds`` seeds and write its results; return the output folder."""
    config = load_recipe(ROOT / "recipes" / f"{recipe_name}.yaml")
    config = config.model_copy(update={"seeds": list(range(seeds))})
    out_dir = out_root / recipe_name
    out_dir.mkdir(parents=True, exist_ok=True)
    session = Session(config, RunStore(f"benchmark-{recipe_name}"), resolve_device(config.device))
    results: list[RunResult] = []
    started = time.time()

    def checkpoint(result: RunResult) -> None:
        results.append(result)
        print(f"[{time.time() - started:7.0f}s] {result.display} seed {result.seed}: "
              f"macro-F1 {result.quality.macro_f1:.3f}", flush=True)
        (out_dir / "results.json").write_text(json.dumps(
            [r.model_dump(mode="json") for r in results], indent=1))

    run_experiment(config, session, on_result=checkpoint)
    board = write_leaderboard(results, out_dir, title=f"{config.name}: {config.ptm} on "
                                                      f"{config.data.dataset}, {seeds} seeds")
    entries = {entry.name: entry for entry in aggregate(results)}
    claims = CLAIMS[recipe_name](entries) if seeds > 1 else ["(claims need at least 2 seeds)"]
    summary = [f"# Benchmark: {recipe_name}", "",
               f"Command: `.venv/bin/python -m benchmarks.reuse --recipe {recipe_name} --seeds {seeds}`",
               f"Machine: {platform.processor() or platform.machine()}, "
               f"{__import__('os').cpu_count()} CPUs, device {session.device}; "
               f"wall time {time.time() - started:.0f} s.", "",
               "Figures are mean ± sample std over seeds. A claim \"A beats B\" holds iff "
               "mean(A) − mean(B) > max(std(A), std(B)).", "",
               render_markdown(board, image="leaderboard.png"), "", "## Claims", "",
               *(f"- {line}" for line in claims), ""]
    (out_dir / "summary.md").write_text("\n".join(summary))
    print("\n".join(summary))
    return out_dir


def main() -> None:
    """Command-line entry."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipe", action="append", choices=RECIPES,
                        help="recipe to run (repeatable; default: all)")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args()
    for name in args.recipe or RECIPES:
        run(name, args.seeds, args.out)


if __name__ == "__main__":
    main()

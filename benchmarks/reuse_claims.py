"""The paper claims the reuse benchmark's summary checks, each a line with the figures it rests on.

Quality claims use the one rule of :func:`zhijian_core.compare.stats.beats`: "A beats B" iff
mean(A) − mean(B) > max(std(A), std(B)) over seeds. A claim whose runs are missing (a method
skipped as not applicable, or left out of a quick run) says so instead of passing silently.
"""

from __future__ import annotations

from zhijian_core.compare.stats import Entry, beats, faster, format_number
from zhijian_core.train.result import RunResult

PEFT_METHODS = ("lora", "ia3", "adapter")
"""Parameter-efficient methods claimed to come within :data:`PEFT_POINTS` of full fine-tuning."""
PEFT_POINTS = 0.03
"""Largest macro-F1 shortfall against full fine-tuning (3 points)."""
PEFT_FRACTION = 0.02
"""Largest fraction of the parameters a parameter-efficient method may train (2%)."""
FEW_SHOT = "@16shot"
"""Label suffix of the runs with 16 training examples per class."""
MERGES = ("task_arithmetic", "ties", "fisher")
"""Methods that merge the per-task models into one backbone."""
KEEPS_MOST = 0.9
"""Fraction of the single-task model's macro-F1 a merged model must keep ("most of it")."""


def _ms(entry: Entry) -> str:
    return f"{format_number(entry.macro_f1.mean)}±{format_number(entry.macro_f1.std)}"


def _missing(what: str, names: list[str], skipped: dict[str, str]) -> str:
    reasons = [f"{name}: {skipped[name]}" for name in names if name in skipped]
    return f"{what}: not checked, no runs of {', '.join(names)}" + (
        f" (skipped: {'; '.join(reasons)})" if reasons else "")


def peft_claims(entries: dict[str, Entry], skipped: dict[str, str]) -> list[str]:
    """LoRA, IA3 and adapters within 3 points of full fine-tuning, training at most 2%."""
    lines = []
    full = entries.get("full_finetune")
    for name in PEFT_METHODS:
        entry = entries.get(name)
        if entry is None or full is None:
            lines.append(_missing(f"{name} within 3 points of full_finetune",
                                  [n for n in (name, "full_finetune") if n not in entries], skipped))
            continue
        shortfall = full.macro_f1.mean - entry.macro_f1.mean
        close, small = shortfall <= PEFT_POINTS, entry.trainable_fraction <= PEFT_FRACTION
        lines.append(
            f"{name} {'holds' if close and small else 'FAILS'}: macro-F1 {_ms(entry)} vs "
            f"full_finetune {_ms(full)} (shortfall {format_number(shortfall)} "
            f"{'<=' if close else '>'} {PEFT_POINTS}); trains {entry.trainable_fraction:.2%} of the "
            f"parameters ({'<=' if small else '>'} {PEFT_FRACTION:.0%}); "
            f"{beats(full, entry).text}")
    return lines


def soup_claims(entries: dict[str, Entry], results: list[RunResult]) -> list[str]:
    """Each greedy soup is at least as good as its best ingredient (the ingredient does not beat it)."""
    lines = []
    for run in results:
        if run.method != "soup" or run.config.get("recipe") != "greedy" or run.seed != results[0].seed:
            continue
        soup = entries[run.display]
        names = [ref.removeprefix("run:") for ref in run.config["ingredients"]]
        present = [entries[n] for n in names if n in entries]
        if not present:
            lines.append(f"{soup.name}: ingredients {names} not on the leaderboard")
            continue
        best = max(present, key=lambda e: e.macro_f1.mean)
        claim = beats(best, soup)
        lines.append(f"{soup.name} {'FAILS' if claim.holds else 'holds'}: at least as good as its "
                     f"best ingredient {best.name} unless that one beats it: {claim.text}")
    return lines


def graft_claims(entries: dict[str, Entry], skipped: dict[str, str]) -> list[str]:
    """A graft distilled from the fine-tuned teacher beats the same graft trained alone."""
    if "kd@graft" in entries and "graft" in entries:
        return [beats(entries["kd@graft"], entries["graft"]).text]
    return [_missing("distilled graft beats graft", ["kd@graft", "graft"], skipped)]


def few_shot_claims(entries: dict[str, Entry], skipped: dict[str, str]) -> list[str]:
    """At 16 examples per class, NCM and SimpleShot beat the non-PTM baseline (TF-IDF, pixels)."""
    baseline = next((e for name, e in entries.items()
                     if e.family == "baseline" and name.endswith(FEW_SHOT)), None)
    lines = []
    for name in ("ncm" + FEW_SHOT, "simpleshot" + FEW_SHOT):
        if name in entries and baseline is not None:
            lines.append(beats(entries[name], baseline).text)
        else:
            lines.append(_missing(f"{name} beats the 16-shot baseline", [name], skipped))
    return lines


def merge_claims(entries: dict[str, Entry]) -> list[str]:
    """Per task: each merged model's macro-F1 as a fraction of the single-task model's and of
    multi-task fine-tuning's (it "keeps most" at :data:`KEEPS_MOST` of the single-task model's)."""
    lines = []
    tasks = sorted({name.split("@", 1)[1] for name in entries
                    if name.split("@", 1)[0] in MERGES and "@" in name})
    for task in tasks:
        single = entries.get(f"full_finetune@{task}")
        joint = entries.get(f"multitask_finetune@{task}")
        if single is None:
            lines.append(f"task {task}: no full_finetune@{task} to compare the merges with")
            continue
        if joint is not None:
            lines.append(f"task {task}: multitask_finetune@{task} {_ms(joint)} vs single-task "
                         f"{_ms(single)}: ratio {joint.macro_f1.mean / single.macro_f1.mean:.3f}")
        for merge in MERGES:
            entry = entries.get(f"{merge}@{task}")
            if entry is None:
                continue
            ratio = entry.macro_f1.mean / single.macro_f1.mean
            against_joint = (f"; vs multitask_finetune {entry.macro_f1.mean / joint.macro_f1.mean:.3f}"
                             if joint is not None else "")
            lines.append(f"task {task}: {merge} {_ms(entry)} keeps {ratio:.1%} of full_finetune@"
                         f"{task}'s macro-F1 ({'holds' if ratio >= KEEPS_MOST else 'FAILS'}: "
                         f">= {KEEPS_MOST:.0%}){against_joint}")
    return lines


def first_issue_claims(entries: dict[str, Entry]) -> list[str]:
    """The first benchmark's claims, where its runs are present (``recipes/tweets-minilm.yaml``):
    LoRA trains faster per epoch than full fine-tuning; MiniLM-L3 distilled from the fine-tuned
    MiniLM-L6 against the same student alone, and its serving speed against the teacher's."""
    lines = []
    if "lora" in entries and "full_finetune" in entries:
        if entries["lora"].epoch_seconds and entries["full_finetune"].epoch_seconds:
            lines.append(faster(entries["lora"], entries["full_finetune"], "epoch_seconds").text)
    student, distilled = entries.get("full_finetune@minilm-l3"), entries.get("kd@minilm-l3")
    if student is not None and distilled is not None:
        lines += [beats(distilled, student).text, beats(student, distilled).text]
        if "full_finetune" in entries:
            lines += [faster(distilled, entries["full_finetune"], metric).text
                      for metric in ("latency_ms_b1", "throughput_b32")]
    return lines or ["not checked: no lora/full_finetune epochs or MiniLM-L3 student runs"]


def check_claims(entries: dict[str, Entry], results: list[RunResult],
                 skipped: dict[str, str]) -> dict[str, list[str]]:
    """Every claim that the runs of one benchmark recipe can check, by section title.

    Args:
        entries: Aggregated entries of every dataset of the recipe, by display name.
        results: The runs (the soups' configs name their ingredients).
        skipped: Why each skipped run label did not run (the applicability error's message).
    """
    return {
        "LoRA, IA3 and adapters against full fine-tuning": peft_claims(entries, skipped),
        "Greedy soups against their best ingredient": soup_claims(entries, results),
        "A distilled graft of the first blocks against the same graft alone": graft_claims(
            entries, skipped),
        "16 examples per class: training-free classifiers against the baseline": few_shot_claims(
            entries, skipped),
        "Merged multi-task models against single-task and multi-task fine-tuning": merge_claims(
            entries),
        "Cost and distillation (the first benchmark's claims)": first_issue_claims(entries),
    }

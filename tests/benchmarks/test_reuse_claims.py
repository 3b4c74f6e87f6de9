"""The reuse benchmark's claim checks and its quick variant, on hand-made runs and the recipes."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.reuse import RECIPES
from benchmarks.reuse_claims import (few_shot_claims, first_issue_claims, graft_claims,
                                     merge_claims, peft_claims, soup_claims)
from benchmarks.reuse_quick import QUICK_DATA, quick_config
from tests.compare.conftest import make_run
from zhijian_core.compare.stats import Entry, aggregate
from zhijian_core.experiment.config import load_recipe
from zhijian_core.experiment.runner import preflight
from zhijian_core.train.result import RunResult

RECIPE_DIR = Path(__file__).resolve().parents[2] / "recipes"


def _runs(name: str, f1s: tuple[float, ...], **extra) -> list[RunResult]:
    return [make_run(name.split("@")[0], f1, seed=seed, label=name, **extra)
            for seed, f1 in enumerate(f1s)]


def _entries(runs: list[RunResult]) -> dict[str, Entry]:
    return {entry.name: entry for entry in aggregate(runs)}


def test_peft_claims_need_both_the_shortfall_and_the_fraction() -> None:
    runs = (_runs("full_finetune", (0.80, 0.81, 0.82), trainable=100, total=100)
            + _runs("lora", (0.79, 0.79, 0.80), trainable=1, total=100)
            + _runs("ia3", (0.70, 0.71, 0.72), trainable=1, total=100))
    lines = peft_claims(_entries(runs), {"adapter": "method 'adapter' does not apply to x"})
    assert lines[0].startswith("lora holds") and "shortfall 0.017 <= 0.03" in lines[0]
    assert lines[1].startswith("ia3 FAILS") and "shortfall 0.100 > 0.03" in lines[1]
    assert "not checked" in lines[2] and "does not apply to x" in lines[2]


def test_a_greedy_soup_fails_only_when_its_best_ingredient_beats_it() -> None:
    soup_config = {"ingredients": ["run:a", "run:b"], "recipe": "greedy"}
    runs = (_runs("a", (0.80, 0.80, 0.80)) + _runs("b", (0.70, 0.71, 0.72))
            + [r.model_copy(update={"config": soup_config, "method": "soup"})
               for r in _runs("soup_greedy", (0.79, 0.80, 0.81))])
    [line] = soup_claims(_entries(runs), runs)
    assert line.startswith("soup_greedy holds") and "best ingredient a" in line
    worse = runs[:6] + [r.model_copy(update={"quality": r.quality.model_copy(
        update={"macro_f1": 0.6})}) for r in runs[6:]]
    assert soup_claims(_entries(worse), worse)[0].startswith("soup_greedy FAILS")


def test_graft_and_few_shot_claims_use_the_beats_rule() -> None:
    runs = (_runs("graft", (0.70, 0.71, 0.72)) + _runs("kd@graft", (0.75, 0.76, 0.77))
            + _runs("ncm@16shot", (0.6, 0.6, 0.6))
            + _runs("tfidf_logreg@16shot", (0.5, 0.5, 0.5), family="baseline"))
    entries = _entries(runs)
    assert graft_claims(entries, {})[0].startswith("kd@graft beats graft")
    ncm, simpleshot = few_shot_claims(entries, {})
    assert ncm.startswith("ncm@16shot beats tfidf_logreg@16shot")
    assert "not checked" in simpleshot


def test_merge_figures_are_ratios_to_single_and_multitask_models() -> None:
    runs = (_runs("full_finetune@airline", (0.8, 0.8, 0.8))
            + _runs("multitask_finetune@airline", (0.76, 0.76, 0.76))
            + _runs("ties@airline", (0.76, 0.76, 0.76)) + _runs("fisher@airline", (0.4, 0.4, 0.4)))
    lines = merge_claims(_entries(runs))
    assert "ratio 0.950" in lines[0]
    assert "ties" in lines[1] and "keeps 95.0%" in lines[1] and "holds" in lines[1]
    assert "vs multitask_finetune 1.000" in lines[1]
    assert "fisher" in lines[2] and "keeps 50.0%" in lines[2] and "FAILS" in lines[2]


@pytest.mark.parametrize("recipe", RECIPES)
def test_the_benchmark_recipes_and_their_quick_variants_validate(recipe: str) -> None:
    config = load_recipe(RECIPE_DIR / f"{recipe}.yaml")
    quick = quick_config(config)
    preflight(quick)
    assert quick.seeds == [0] and quick.data.train_size == QUICK_DATA["train_size"]
    assert [s.display for s in quick.methods] == [s.display for s in config.methods]
    by = {s.display: s for s in quick.methods}
    assert by["full_finetune"].train["epochs"] == 1
    assert by["linear_probe"].train == {}  # heads on cached features keep their epochs
    assert by["kd@graft"].config["transfer_size"] <= 200
    assert by["ncm@16shot"].data == {"shots": 16, "train_size": None}


def test_first_issue_claims_compare_epochs_and_the_distilled_student() -> None:
    runs = (_runs("full_finetune", (0.8, 0.8, 0.8), epoch_seconds=50.0)
            + _runs("lora", (0.8, 0.8, 0.8), epoch_seconds=30.0)
            + _runs("full_finetune@minilm-l3", (0.70, 0.70, 0.70), latency_ms=5.0)
            + _runs("kd@minilm-l3", (0.75, 0.75, 0.75), latency_ms=5.0))
    lines = first_issue_claims(_entries(runs))
    assert lines[0].startswith("lora is faster than full_finetune on epoch_seconds")
    assert lines[1].startswith("kd@minilm-l3 beats full_finetune@minilm-l3")
    assert lines[3].startswith("kd@minilm-l3 is faster than full_finetune on latency_ms_b1")
    assert first_issue_claims({})[0].startswith("not checked")


@pytest.mark.timeout(30)
def test_a_stopped_run_can_be_summarized_from_its_results(tmp_path: Path) -> None:
    """``--summarize`` reads back exactly the runs and skipped methods the benchmark saved."""
    from benchmarks.reuse import _Log

    log = _Log(tmp_path)
    runs = _runs("lora", (0.7, 0.72)) + _runs("ncm", (0.6, 0.61))
    for run in runs:
        log.add(run)
    log.skip("vpt", "method 'vpt' does not apply")
    loaded = _Log.load(tmp_path)
    assert loaded.results == runs and loaded.skipped == {"vpt": "method 'vpt' does not apply"}


@pytest.mark.timeout(30)
def test_seeds_run_in_other_processes_join_the_summary(tmp_path: Path) -> None:
    """``--summarize --join``: a seed run elsewhere adds its runs; runs already present stay once."""
    from benchmarks.reuse import _Log

    main, other = tmp_path / "main", tmp_path / "other"
    main.mkdir()
    other.mkdir()
    first, second = _Log(main), _Log(other)
    for run in _runs("lora", (0.7, 0.72)):
        first.add(run)
    for run in [make_run("lora", 0.74, seed=2, label="lora"), make_run("lora", 0.72, seed=1,
                                                                         label="lora")]:
        second.add(run)
    loaded = _Log.load(main, [other])
    assert sorted((r.seed, r.quality.macro_f1) for r in loaded.results) == [
        (0, 0.7), (1, 0.72), (2, 0.74)]

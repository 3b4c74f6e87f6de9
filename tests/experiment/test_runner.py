"""A whole comparison on tiny models: every first method, the baseline, the store and the board."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from zhijian_core.compare.leaderboard import write_leaderboard
from zhijian_core.experiment.config import parse_experiment
from zhijian_core.experiment.runner import run_experiment
from zhijian_core.experiment.session import Session, resolve_device
from zhijian_core.runs.store import RunStore

FAST = {"epochs": 2, "batch_size": 16, "lr": 1e-3}


def _config(ptm: str, dataset: str, methods: list[dict], **extra) -> dict:
    return {"name": "tiny", "ptm": ptm, "seeds": [0],
            "data": {"dataset": dataset, "train_size": 40, "val_size": 20, "test_size": 30},
            "methods": methods, **extra}


def test_text_comparison_runs_every_first_method_and_stores_runs(text_task, tmp_path: Path) -> None:
    csv_path, ptm = text_task
    config = parse_experiment(_config(ptm, str(csv_path), [
        {"method": "linear_probe", "train": {"epochs": 5}},
        {"method": "ncm"},
        {"method": "ncm", "label": "ncm@4shot", "data": {"shots": 4, "train_size": None}},
        {"method": "partial_k", "config": {"k": 1}, "train": FAST},
        {"method": "full_finetune", "train": {"epochs": 8, "batch_size": 8, "lr": 1e-3}},
        {"method": "lora", "config": {"r": 4, "alpha": 8}, "train": FAST},
        {"method": "kd", "config": {"teacher": "run:full_finetune", "transfer_size": 10},
         "train": FAST},
    ], preprocess={"max_length": 16}), "test")
    store = RunStore("tiny")
    session = Session(config, store, resolve_device("cpu"))
    results = run_experiment(config, session)

    labels = [r.display for r in results]
    assert labels == ["tfidf_logreg", "tfidf_logreg@4shot", "linear_probe", "ncm", "ncm@4shot",
                      "partial_k", "full_finetune", "lora", "kd"]
    by = {r.display: r for r in results}
    assert by["ncm"].cost.trainable_params == 0 and by["ncm"].cost.epoch_seconds is None
    assert 0 < by["lora"].cost.trainable_params < by["full_finetune"].cost.trainable_params
    assert by["linear_probe"].cost.trainable_params == 32 * 2 + 2
    for result in results:
        assert 0.0 <= result.quality.macro_f1 <= 1.0
        assert result.cost.latency_ms_b1 > 0 and result.cost.throughput_b32 > 0
    # The separable toy task: well above chance even for class means of random-init features,
    # and learned by fine-tuning.
    assert by["ncm"].quality.accuracy >= 0.7
    assert by["full_finetune"].quality.accuracy >= 0.9
    # Same data fingerprint for every run on the default data, another for the few-shot run.
    assert by["lora"].data_fingerprint == by["ncm"].data_fingerprint != by["ncm@4shot"].data_fingerprint

    # A stored run rebuilds (skeleton + safetensors) to the very module that was evaluated.
    final, target = session.finished["lora"]
    stored = store.load(by["lora"].run_id)
    test = session.tensors(target, session.splits(
        config.data.model_copy(update={"seed": 0})).test)
    batch = test.batch(torch.arange(8))
    with torch.inference_mode():
        torch.testing.assert_close(stored.module(batch), final(batch), atol=1e-5, rtol=1e-5)
    assert stored.result.quality == by["lora"].quality
    assert stored.label_names == ("negative", "positive")

    board = write_leaderboard(results, tmp_path, "tiny")
    assert json.loads((tmp_path / "leaderboard.json").read_text())["title"] == "tiny"
    assert len(board.entries) == len(labels)


def test_image_comparison_with_a_teacher_from_the_store(image_task) -> None:
    base = _config("timm:test_vit", str(image_task), [
        {"method": "full_finetune", "train": FAST},
        {"method": "linear_probe", "train": {"epochs": 3}},
    ], preprocess={"image_size": 32})
    config = parse_experiment(base, "test")
    store = RunStore("tiny-images")
    results = run_experiment(config, Session(config, store, resolve_device("cpu")))
    assert [r.display for r in results] == ["pixels_logreg", "full_finetune", "linear_probe"]
    teacher_id = results[1].run_id
    # A later experiment distils from the stored run by its id (no earlier run of its own).
    later = parse_experiment({**base, "baseline": False, "methods": [
        {"method": "kd", "config": {"teacher": f"run:{teacher_id}", "transfer_size": 8},
         "train": FAST}]}, "test")
    (kd,) = run_experiment(later, Session(later, store, resolve_device("cpu")))
    assert kd.method == "kd" and kd.cost.trainable_params > 0


def test_unknown_teacher_run_is_a_clear_error(image_task) -> None:
    from zhijian_core.errors import ZhijianError

    config = parse_experiment(_config("timm:test_vit", str(image_task), [
        {"method": "kd", "config": {"teacher": "run:nowhere"}, "train": FAST}],
        preprocess={"image_size": 32}, baseline=False), "test")
    with pytest.raises(ZhijianError, match="nowhere"):
        run_experiment(config, Session(config, RunStore("tiny-err"), resolve_device("cpu")))


def test_distillation_leaves_the_shared_student_ptm_untouched(text_task, tmp_path: Path) -> None:
    from tests.tiny import tiny_bert_dir

    csv_path, ptm = text_task
    student = f"local:{tiny_bert_dir(tmp_path / 'student', seed=1)}"
    config = parse_experiment(_config(ptm, str(csv_path), [
        {"method": "full_finetune", "train": FAST},
        {"method": "kd", "config": {"teacher": "run:full_finetune", "student": student,
                                    "transfer_size": 5}, "train": FAST},
    ], preprocess={"max_length": 16}, baseline=False, seeds=[0, 1]), "test")
    session = Session(config, None, resolve_device("cpu"))
    before = {k: v.clone() for k, v in session.ptm(student).backbone.state_dict().items()}
    results = run_experiment(config, session)
    assert [r.ptm for r in results if r.method == "kd"] == [session.ptm(student).spec] * 2
    after = session.ptm(student).backbone.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_a_method_that_does_not_apply_is_skipped_once_or_raised(text_task) -> None:
    from zhijian_core.errors import NotApplicableError

    csv_path, ptm = text_task
    config = parse_experiment(_config(ptm, str(csv_path), [
        {"method": "co_tuning"}, {"method": "ncm"}], seeds=[0, 1],
        preprocess={"max_length": 16}), "test")
    skipped: list[tuple[str, str]] = []
    results = run_experiment(config, Session(config, None, resolve_device("cpu")),
                             on_skip=lambda spec, exc: skipped.append((spec.display, str(exc))))
    assert [r.display for r in results] == ["tfidf_logreg", "ncm"] * 2
    assert [name for name, _ in skipped] == ["co_tuning"]  # not tried again for seed 1
    assert "co_tuning" in skipped[0][1] and "does not apply" in skipped[0][1]
    with pytest.raises(NotApplicableError):
        run_experiment(config, Session(config, None, resolve_device("cpu")))

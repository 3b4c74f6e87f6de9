"""A comparison whose trials run as Ray tasks equals the in-process one; only the driver stores
runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from zhijian_core.experiment.config import parse_experiment
from zhijian_core.experiment.ray_trials import RayOptions, dependencies, run_experiment_on_ray
from zhijian_core.experiment.runner import run_experiment
from zhijian_core.experiment.session import Session, resolve_device
from zhijian_core.runs.store import RunStore

FAST = {"epochs": 2, "batch_size": 16, "lr": 1e-3}


def _config(ptm: str, dataset: str, methods: list[dict], **extra):
    return parse_experiment({"name": "tiny", "ptm": ptm, "seeds": [0],
                             "preprocess": {"max_length": 16},
                             "data": {"dataset": dataset, "train_size": 40, "val_size": 20,
                                      "test_size": 30},
                             "methods": methods, **extra}, "test")


def _files(root: Path) -> dict[str, float]:
    """Files under a ZhiJian home and their modification times, but the serving replicas'
    Prometheus files (``metrics/``): apps that earlier tests deployed on the shared Ray keep
    writing those."""
    if not root.exists():
        return {}
    return {str(p): p.stat().st_mtime for p in root.rglob("*")
            if p.is_file() and p.relative_to(root).parts[0] != "metrics"}


def _layout(store: RunStore, run_id: str) -> dict:
    """What a stored run holds, without its values that may differ between two runs."""
    run = store.client.get_run(run_id)
    artifacts = sorted(a.path for a in store.client.list_artifacts(run_id, "model"))
    return {"artifacts": artifacts, "params": run.data.params, "metrics": sorted(run.data.metrics),
            "tags": {k: v for k, v in run.data.tags.items() if k.startswith("zhijian.")},
            "status": run.info.status, "name": run.info.run_name}


def test_dependencies_are_earlier_runs_referenced_anywhere_in_a_config(text_task) -> None:
    csv_path, ptm = text_task
    config = _config(ptm, str(csv_path), [
        {"method": "full_finetune"}, {"method": "ncm"},
        {"method": "kd", "config": {"teacher": "run:full_finetune"}},
        {"method": "kd", "label": "kd_stored", "config": {"teacher": "run:0123abcd"}},
    ])
    assert dependencies(config) == {"full_finetune": set(), "ncm": set(), "kd": {"full_finetune"},
                                    "kd_stored": set()}


@pytest.mark.e2e
def test_ray_comparison_equals_the_in_process_one(text_task, ray_serve) -> None:
    csv_path, ptm = text_task
    config = _config(ptm, str(csv_path), [
        {"method": "linear_probe", "train": {"epochs": 3}},
        {"method": "ncm"},
        {"method": "full_finetune", "train": FAST},
        {"method": "kd", "config": {"teacher": "run:full_finetune", "transfer_size": 10},
         "train": FAST},
        {"method": "logit_ensemble", "config": {"ingredients": ["run:full_finetune", "run:kd"]}},
        {"method": "wise_ft", "config": {"fine_tuned": "run:full_finetune",
                                         "zero_shot": "run:linear_probe", "alpha": 0.5}},
    ])
    local_store = RunStore("tiny-local")
    local = run_experiment(config, Session(config, local_store, resolve_device("cpu")))
    worker_home = _files(ray_serve.home)
    ray_store = RunStore("tiny-ray")
    seen: list[str] = []
    remote = run_experiment_on_ray(config, ray_store, RayOptions("auto", cpus_per_trial=1),
                                   on_result=lambda r: seen.append(r.display))

    assert remote.failures == {}
    assert [r.display for r in remote.results] == [r.display for r in local] == [
        "tfidf_logreg", "linear_probe", "ncm", "full_finetune", "kd", "logit_ensemble", "wise_ft"]
    # A run starts only after the runs it references finished (it never re-trains them).
    assert seen.index("full_finetune") < seen.index("kd") < seen.index("logit_ensemble")
    assert max(seen.index("full_finetune"), seen.index("linear_probe")) < seen.index("wise_ft")
    for mine, theirs in zip(remote.results, local):
        assert mine.quality.macro_f1 == pytest.approx(theirs.quality.macro_f1, abs=1e-6)
        assert mine.quality.accuracy == pytest.approx(theirs.quality.accuracy, abs=1e-6)
        assert mine.val_quality == theirs.val_quality
        assert mine.cost.trainable_params == theirs.cost.trainable_params
        assert mine.cost.total_params == theirs.cost.total_params
        assert (mine.data_fingerprint, mine.config, mine.train_config, mine.ptm) == (
            theirs.data_fingerprint, theirs.config, theirs.train_config, theirs.ptm)
        assert (mine.run_id is None) == (theirs.run_id is None)
        if mine.run_id is not None:
            assert _layout(ray_store, mine.run_id) == _layout(local_store, theirs.run_id)

    # Every run was written by the driver, into the driver's store; workers wrote nothing at all
    # under their own ZhiJian home (where their default MLflow store would be).
    assert _files(ray_serve.home) == worker_home
    stored = ray_store.client.search_runs([ray_store.experiment_id])
    assert sorted(run.info.run_id for run in stored) == sorted(
        r.run_id for r in remote.results if r.run_id is not None)
    # Runs stored from Ray workers rebuild, with the in-process runs' architectures (a classifier,
    # an ensemble of two classifiers).
    for by_ray, by_local in zip(remote.results[-3:], local[-3:]):
        rebuilt = ray_store.load(by_ray.run_id)
        assert rebuilt.result.quality == by_ray.quality
        assert json.loads(rebuilt.architecture.model_dump_json()) == json.loads(
            local_store.load(by_local.run_id).architecture.model_dump_json())


@pytest.mark.e2e
def test_a_failed_trial_is_named_and_the_rest_finish(text_task, ray_serve) -> None:
    csv_path, ptm = text_task
    config = _config(ptm, str(csv_path), [
        {"method": "ncm"},
        # Fails in its worker: a text transformer has no convolution modules to adapt.
        {"method": "lora", "label": "bad", "config": {"target_modules": ["conv_pw"]},
         "train": FAST},
        {"method": "kd", "config": {"teacher": "run:bad", "transfer_size": 5}, "train": FAST},
        {"method": "kd", "label": "kd_lost", "config": {"teacher": "run:nowhere"}, "train": FAST},
    ], baseline=False)
    store = RunStore("tiny-failures")
    remote = run_experiment_on_ray(config, store, RayOptions("auto", cpus_per_trial=1))
    assert [r.display for r in remote.results] == ["ncm"] and remote.results[0].run_id
    assert sorted(remote.failures) == ["bad seed 0", "kd seed 0", "kd_lost seed 0"]
    assert "conv_pw" in remote.failures["bad seed 0"]
    assert "bad" in remote.failures["kd seed 0"]
    assert "nowhere" in remote.failures["kd_lost seed 0"]
    assert len(store.client.search_runs([store.experiment_id])) == 1


@pytest.mark.e2e
def test_cli_compare_on_ray_writes_the_leaderboard_then_names_failed_trials(
        text_task, ray_serve, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from zhijian_core.cli.main import app
    from zhijian_core.experiment.ray_trials import TrialsFailedError

    csv_path, ptm = text_task
    done = CliRunner().invoke(app, [
        "compare", "--ptm", ptm, "--dataset", str(csv_path), "-m", "ncm", "-m", "linear_probe",
        "-m", "lora", "-p", "lora.target_modules=[conv_pw]",
        "-p", "linear_probe.train.epochs=2", "--train-size", "40", "--val-size", "10",
        "--test-size", "20", "--max-length", "16", "--seeds", "2", "--no-store", "--quiet",
        "--out", str(tmp_path), "--ray-address", "auto", "--cpus-per-trial", "1"])
    assert isinstance(done.exception, TrialsFailedError), done.output
    assert "2 trial(s) failed" in str(done.exception)
    assert "lora seed 0" in str(done.exception) and "lora seed 1" in str(done.exception)
    board = json.loads((tmp_path / "leaderboard.json").read_text())
    methods = {entry["method"] for entry in board["entries"]}
    assert methods == {"tfidf_logreg", "ncm", "linear_probe"}


def test_trial_resources_need_a_ray_address() -> None:
    from zhijian_core.cli.compare import _ray_options
    from zhijian_core.errors import ConfigError

    assert _ray_options(None, None, None) is None
    assert _ray_options("auto", None, 0.5) == RayOptions("auto", 1.0, 0.5)
    with pytest.raises(ConfigError, match="--ray-address"):
        _ray_options(None, 2, None)
    with pytest.raises(ConfigError, match="negative"):
        RayOptions("auto", -1)

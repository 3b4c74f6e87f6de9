"""The command line: help everywhere, and bad input ends in one clear line and a non-zero exit."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.experiment.conftest import write_sentiment_csv
from tests.tiny import tiny_bert_dir

COMMANDS = ["methods", "compare", "ptm", "data", "doctor"]


def zhijian(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "zhijian_core.cli.main", *args], capture_output=True,
                          text=True, timeout=240, cwd=cwd, env=env)


@pytest.fixture(scope="module")
def task(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    root = tmp_path_factory.mktemp("cli")
    return write_sentiment_csv(root / "data.csv", n=60), f"local:{tiny_bert_dir(root / 'bert')}"


@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_every_command_has_help(command: str | None) -> None:
    done = zhijian(*([command] if command else []), "--help")
    assert done.returncode == 0, done.stderr
    assert "Usage" in done.stdout


def test_methods_lists_every_builtin_in_every_format() -> None:
    from zhijian_core.methods.registry import BUILTIN_METHODS

    rows = json.loads(zhijian("methods", "--format", "json").stdout)
    assert {row["name"] for row in rows} >= set(BUILTIN_METHODS)
    assert all(row["paper"] and row["family"] in ("architect", "tuner", "merger") for row in rows)
    markdown = zhijian("methods", "--format", "markdown").stdout
    assert "| method | family | paper | text transformer | ViT | CNN |" in markdown
    assert "lora" in zhijian("methods").stdout


def _assert_one_line_error(done: subprocess.CompletedProcess, *fragments: str) -> None:
    assert done.returncode != 0
    assert "Traceback" not in done.stderr, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert lines and lines[-1].startswith("error: "), done.stderr
    for fragment in fragments:
        assert fragment in lines[-1], lines[-1]


def test_unknown_method(task) -> None:
    csv_path, ptm = task
    done = zhijian("compare", "--ptm", ptm, "--dataset", str(csv_path), "-m", "lorra", "--no-store")
    _assert_one_line_error(done, "unknown method 'lorra'", "Did you mean 'lora'")


def test_unknown_ptm(task) -> None:
    csv_path, _ = task
    done = zhijian("compare", "--ptm", "nosuch:model", "--dataset", str(csv_path), "-m", "ncm",
                   "--no-store")
    _assert_one_line_error(done, "nosuch:model", "minilm-l6")


def test_csv_without_label_column(task, tmp_path: Path) -> None:
    _, ptm = task
    bad = tmp_path / "nolabel.csv"
    bad.write_text("text,sentiment\nhello,positive\nbye,negative\n")
    done = zhijian("compare", "--ptm", ptm, "--dataset", str(bad), "-m", "ncm", "--no-store")
    _assert_one_line_error(done, "label")


def test_empty_dataset(task, tmp_path: Path) -> None:
    _, ptm = task
    empty = tmp_path / "empty.csv"
    empty.write_text("text,label\n")
    done = zhijian("compare", "--ptm", ptm, "--dataset", str(empty), "-m", "ncm", "--no-store")
    _assert_one_line_error(done)


def test_method_that_does_not_apply_to_the_backbone(task) -> None:
    csv_path, ptm = task
    # LoRA asked to adapt convolution modules of a text transformer that has none.
    done = zhijian("compare", "--ptm", ptm, "--dataset", str(csv_path), "-m", "lora",
                   "-p", "lora.target_modules=[conv_pw]", "--no-store", "--val-size", "10",
                   "--test-size", "10")
    _assert_one_line_error(done, "lora")


def test_bad_recipe_reports_every_problem(tmp_path: Path) -> None:
    recipe = tmp_path / "bad.yaml"
    recipe.write_text("ptm: minilm-l6\ndata: {dataset: airline-tweets, colour: red}\nmethods: []\n")
    done = zhijian("compare", "--recipe", str(recipe))
    _assert_one_line_error(done, "data.colour", "methods")


@pytest.mark.e2e
def test_compare_writes_a_leaderboard(task, tmp_path: Path) -> None:
    csv_path, ptm = task
    done = zhijian("compare", "--ptm", ptm, "--dataset", str(csv_path), "-m", "ncm",
                   "-m", "linear_probe", "-p", "linear_probe.train.epochs=3", "--val-size", "10",
                   "--test-size", "20", "--out", str(tmp_path / "board"), "--quiet", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "linear_probe" in done.stdout and "tfidf_logreg" in done.stdout
    for name in ("leaderboard.json", "leaderboard.md", "leaderboard.png"):
        assert (tmp_path / "board" / name).stat().st_size > 0

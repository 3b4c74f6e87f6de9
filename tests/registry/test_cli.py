"""The registry commands: help everywhere, the whole workflow, and one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.registry.conftest import make_bundle
from zhijian_core.cli.main import app

COMMANDS = [["registry"], ["registry", "register"], ["registry", "list"], ["registry", "show"],
            ["registry", "resolve"], ["registry", "doctor"], ["promote"], ["rollback"], ["history"]]


def zhijian(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "zhijian_core.cli.main", *args], capture_output=True,
                          text=True, timeout=240, env={**os.environ, "COLUMNS": "200"},
                          cwd=Path(__file__).resolve().parents[2])


def invoke(*args: str) -> str:
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})
    assert result.exit_code == 0, (result.output, result.exception)
    return result.output


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_registry_command_has_help(command: list[str]) -> None:
    assert "Usage" in invoke(*command, "--help")


@pytest.mark.usefixtures("seeded_home")
def test_the_workflow_from_the_command_line(tmp_path: Path) -> None:
    for v in range(2):
        make_bundle(tmp_path / f"b{v}", macro_f1=0.9)
    assert "version 1" in invoke("registry", "register", str(tmp_path / "b0"), "--name", "cli-model")
    assert "version 2" in invoke("registry", "register", str(tmp_path / "b1"), "--name", "cli-model")
    assert "production -> v1 (was unset)" in invoke("promote", "cli-model", "1", "--to", "production")
    out = invoke("promote", "cli-model", "2", "--to", "canary", "--percent", "10", "--actor", "ana")
    assert "canary -> v2" in out and "passed  parity" in out
    assert "canary -> v2" in invoke("registry", "list") and "canary 10%" in invoke("registry", "list")
    shown = json.loads(invoke("registry", "show", "cli-model", "--json"))
    assert shown["aliases"] == {"production": 1, "canary": 2} and shown["canary_percent"] == 10
    assert "cli-model v2" in invoke("registry", "resolve", "cli-model", "canary")
    assert "production -> v2" in invoke("promote", "cli-model", "2", "--to", "production")
    assert "production -> v1 (was v2)" in invoke("rollback", "cli-model", "--reason", "drill")
    trail = json.loads(invoke("history", "cli-model", "--json"))
    assert [(r["kind"], r["target_version"], r["state"]) for r in trail] == [
        ("promote", 1, "committed"), ("promote", 2, "committed"), ("promote", 2, "committed"),
        ("rollback", 1, "committed")]
    assert trail[1]["actor"] == "ana" and trail[3]["reason"] == "drill"
    assert "by " in invoke("history", "cli-model")
    assert "ok" in invoke("registry", "doctor")


@pytest.mark.parametrize(("args", "message"), [
    (["registry", "show", "../etc"], "model name '../etc' is invalid: it contains '..' (path traversal)"),
    (["promote", "Model", "1", "--to", "production"], "uppercase"),
    (["promote", "m", "1", "--to", "Prod"], "alias 'Prod' is invalid"),
])
def test_bad_names_end_in_one_line_before_mlflow_loads(args: list[str], message: str) -> None:
    done = zhijian(*args)
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and message in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.usefixtures("seeded_home")
def test_unknown_model_and_alias_end_in_one_line(tmp_path: Path) -> None:
    from zhijian_core.registry import Registry

    Registry().register(make_bundle(tmp_path / "b"), "known")
    for args, message in [(["registry", "show", "nobody"], "no registered model 'nobody'"),
                          (["registry", "resolve", "known", "canary"], "has no alias 'canary'"),
                          (["promote", "known", "1", "--to", "canary"], "needs its traffic percent")]:
        done = zhijian(*args)
        assert done.returncode == 2, done.stderr
        assert done.stderr.strip().count("\n") == 0 and message in done.stderr, done.stderr
        assert "Traceback" not in done.stderr

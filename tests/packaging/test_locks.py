"""Packaging: extras, lock files and the install paths that use them."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
EXTRAS = PYPROJECT["project"]["optional-dependencies"]
LOCKS = sorted((ROOT / "requirements").glob("*.txt"))


def _names(requirements: list[str]) -> set[str]:
    return {re.split(r"[\s\[<>=!~;]", r, maxsplit=1)[0].lower() for r in requirements}


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, f"{path.name}: '{line}' is not pinned with =="
            pins[name] = version
    return pins


def test_required_extras_exist() -> None:
    assert {"train", "ort-cpu", "ort-gpu", "serve", "dev"} <= set(EXTRAS)


def test_serve_extra_has_no_torch_and_no_onnxruntime() -> None:
    names = _names(EXTRAS["serve"])
    assert not names & {"torch", "torchvision", "onnxruntime", "onnxruntime-gpu"}
    assert {"ray", "tokenizers", "numpy", "pillow", "prometheus-client"} <= names


def test_train_extra_pins_the_local_torch() -> None:
    assert "torch==2.14.1" in EXTRAS["train"]
    assert "torchvision==0.29.1" in EXTRAS["train"]


@pytest.mark.parametrize("lock", LOCKS, ids=lambda p: p.name)
def test_each_lock_holds_one_onnxruntime_and_only_exact_pins(lock: Path) -> None:
    pins = _pins(lock)
    assert len({"onnxruntime", "onnxruntime-gpu"} & set(pins)) == 1, lock.name


def test_expected_locks_exist_with_the_right_runtime() -> None:
    assert {p.name for p in LOCKS} >= {"cpu.txt", "gpu-serve.txt"}
    cpu, gpu = _pins(ROOT / "requirements/cpu.txt"), _pins(ROOT / "requirements/gpu-serve.txt")
    assert "onnxruntime" in cpu and cpu["torch"] == "2.14.1"
    assert "onnxruntime-gpu" in gpu and "torch" not in gpu


def test_every_install_uses_a_lock_as_constraints() -> None:
    makefile = (ROOT / "Makefile").read_text()
    assert "-c $(LOCK)" in makefile and "LOCK := requirements/cpu.txt" in makefile
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"pip install[^\n]*-c requirements/", dockerfile)


def test_ci_runs_the_readme_test_command() -> None:
    assert (ROOT / ".ci/run").read_text().strip().splitlines()[-1] == "exec make test"
    readme = (ROOT / "README.md").read_text()
    commands = re.findall(r"^\s*(make \w+)\s*$", readme, flags=re.M)
    assert commands[:2] == ["make demo", "make test"]

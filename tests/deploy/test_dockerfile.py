"""The Dockerfile, checked without Docker: it parses, what it copies and installs exists, the serving
image has no torch and one CUDA source, and its entry point is a real command."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from tests.deploy.dockerfile import Dockerfile, DockerfileError, arg_default, copy_sources

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())

# (ORT, WITH_CORE) -> (the lock file used as constraints, the extras installed)
VARIANTS = {
    ("gpu", "0"): ("requirements/gpu-serve.txt", "serve,ort-gpu"),
    ("cpu", "0"): ("requirements/cpu-serve.txt", "serve,ort-cpu"),
    ("gpu", "1"): ("requirements/gpu-train.txt", "serve,train,assets,ort-gpu"),
    ("cpu", "1"): ("requirements/cpu.txt", "serve,train,assets,ort-cpu"),
}


@pytest.fixture(scope="module")
def dockerfile() -> Dockerfile:
    return Dockerfile.read(DOCKERFILE)


def _lock_extras(path: Path) -> set[str]:
    match = re.search(r"for extras \[([^\]]+)\]", path.read_text().splitlines()[0])
    assert match, f"{path} has no 'for extras [...]' header (made by make lock)"
    return set(match.group(1).split(","))


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            pins[name.strip().lower()] = version.strip()
    return pins


def test_it_parses_into_a_build_and_a_runtime_stage(dockerfile: Dockerfile) -> None:
    assert [s.name for s in dockerfile.stages] == ["build", "runtime"]
    assert all(s.base == "${PYTHON_IMAGE}" for s in dockerfile.stages)
    runtime = dockerfile.stage("runtime")
    (copied,) = [i for i in runtime.all("COPY") if "from" in i.flags]
    assert copied.flags["from"] == "build"


def test_every_copied_path_exists(dockerfile: Dockerfile) -> None:
    build = dockerfile.stage("build")
    sources = [s for i in build.all("COPY") for s in copy_sources(i)]
    assert sources, "the build stage copies nothing"
    for source in sources:
        assert (ROOT / source).exists(), f"COPY {source}: no such path in the repository"
    for package in PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"]:
        assert f"{package.rstrip('*')}/" in sources, f"the image would miss package {package}"
    assert PYPROJECT["project"]["readme"] in sources


@pytest.mark.parametrize(("variant", "lock", "extras"),
                         [(k, *v) for k, v in VARIANTS.items()], ids=lambda v: str(v))
def test_each_variant_installs_existing_extras_with_their_lock(
        dockerfile: Dockerfile, variant: tuple[str, str], lock: str, extras: str) -> None:
    ort, _ = variant
    (install,) = [i for i in dockerfile.stage("build").all("RUN") if "pip install" in i.rest]
    text = install.rest.replace("${ORT}", ort)
    assert lock in text, f"the build does not install with constraints {lock}"
    installed = set(extras.split(","))
    assert re.search(r"\.\[([^\]]+)\]", text)
    assert any(set(found.split(",")) == installed
               for found in re.findall(r"\.\[([^\]]+)\]", text)), f".[{extras}] is not installed"
    assert installed <= set(PYPROJECT["project"]["optional-dependencies"]), \
        f"extras {installed - set(PYPROJECT['project']['optional-dependencies'])} are not in " \
        "pyproject.toml"
    assert (ROOT / lock).is_file(), f"{lock} is missing: run make lock"
    assert installed <= _lock_extras(ROOT / lock), f"{lock} was not resolved for .[{extras}]"


def test_serving_images_have_no_torch_and_one_cuda_source(dockerfile: Dockerfile) -> None:
    assert arg_default(dockerfile.stage("build"), "ORT") == "gpu"
    assert arg_default(dockerfile.stage("build"), "WITH_CORE") == "0"
    for lock in ("requirements/gpu-serve.txt", "requirements/cpu-serve.txt"):
        assert "torch" not in _pins(ROOT / lock)
    gpu = _pins(ROOT / "requirements/gpu-serve.txt")
    assert "onnxruntime-gpu" in gpu and "onnxruntime" not in gpu
    assert any(name.startswith("nvidia-cudnn") for name in gpu), "cuDNN must come from its wheel"
    assert "nvidia-cuda-runtime" in gpu
    base = dockerfile.args["PYTHON_IMAGE"]
    assert base.startswith("python:") and "cuda" not in base, \
        "CUDA comes from the pip wheels only: the base image must carry none"


def test_the_runtime_is_non_root_labelled_and_health_checked(dockerfile: Dockerfile) -> None:
    runtime = dockerfile.stage("runtime")
    user = runtime.all("USER")[-1].rest
    assert user not in ("root", "0") and not user.startswith("0:")
    labels = " ".join(i.rest for i in runtime.all("LABEL"))
    for key in ("org.opencontainers.image.version", "org.opencontainers.image.revision",
                "org.opencontainers.image.title"):
        assert f"{key}=" in labels
    (health,) = runtime.all("HEALTHCHECK")
    (expose,) = runtime.all("EXPOSE")
    assert f"http://127.0.0.1:{expose.rest}/v2/health/ready" in health.rest
    oip = (ROOT / "services/gateway/oip.py").read_text()
    assert '"/health/ready"' in oip  # the gateway's readiness route, mounted under /v2


def test_the_entry_point_is_a_real_command(dockerfile: Dockerfile) -> None:
    import importlib

    import typer

    runtime = dockerfile.stage("runtime")
    entrypoint = runtime.all("ENTRYPOINT")[-1].exec_form()
    command = runtime.all("CMD")[-1].exec_form()
    assert entrypoint is not None and command is not None, "use the exec form (signals reach it)"
    (script,) = entrypoint
    target = PYPROJECT["project"]["scripts"][script]
    module, _, function = target.partition(":")
    assert callable(getattr(importlib.import_module(module), function))
    app = typer.main.get_command(importlib.import_module(module).app)
    name, *args = command
    sub = app.get_command(None, name)  # type: ignore[arg-type]
    assert sub is not None, f"'{script} {name}' is not a command"
    context = sub.make_context(name, list(args))  # parses every option, runs nothing
    assert context.params["host"] == "0.0.0.0"
    (expose,) = runtime.all("EXPOSE")
    assert str(context.params["port"]) == expose.rest


@pytest.mark.parametrize(("text", "words"), [
    ("RUN echo\n", "before the first FROM"),
    ("FROM python AS a\nFROBNICATE x\n", "unknown instruction"),
    ("FROM python AS a\nCMD [\"x\",\n", "not a valid JSON array"),
    ("FROM python AS a\nFROM python AS a\n", "used twice"),
    ("FROM python AS a\nCOPY --from=b /x /y\n", "names no earlier stage"),
    ("FROM python\nRUN a \\\n", "inside a continued line"),
])
def test_the_reader_refuses_broken_dockerfiles(text: str, words: str) -> None:
    with pytest.raises(DockerfileError, match=words):
        Dockerfile.parse(text)

"""Small real bundles (a one-node ONNX graph, a valid manifest) and one registry store per module."""

from __future__ import annotations

import itertools
import os
import shutil
from pathlib import Path

import pytest

from zhijian_core.bundle.io import MODEL, write_bundle
from zhijian_core.bundle.manifest import (IO, DatasetLineage, Evaluation, Evidence, Lineage, Manifest,
                                          MethodLineage, Parity, PTMLineage, Task, TensorSpec)
from zhijian_core.preprocess.spec import ImagePreprocessSpec

_counter = itertools.count()


def write_onnx(path: Path) -> None:
    """A real ONNX model: ``probs = Identity(pixel_values)``."""
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Identity", ["pixel_values"], ["probs"])], "tiny",
        [helper.make_tensor_value_info("pixel_values", TensorProto.FLOAT, ["batch", 2])],
        [helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["batch", 2])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def make_bundle(target: Path, name: str = "tiny", macro_f1: float | None = 0.9,
                fingerprint: str = "fp-a", parity_passed: bool = True, verified: bool = True,
                latency_ms: float | None = 1.5) -> Path:
    """Write a bundle that ``verify_bundle`` accepts; ``macro_f1=None`` leaves out the evaluation."""
    evaluation = None if macro_f1 is None else Evaluation(
        dataset_fingerprint=fingerprint, examples=40, accuracy=macro_f1, macro_f1=macro_f1)

    def fill(tmp: Path) -> Manifest:
        write_onnx(tmp / MODEL)
        return Manifest(
            lineage=Lineage(model_name=name,
                            ptm=PTMLineage(spec="timm:tiny", identity="tiny", digest="ab" * 32),
                            method=MethodLineage(name="linear_probe", family="architect"),
                            dataset=DatasetLineage(name="toy", fingerprint=fingerprint),
                            code_version="0.0.test", created_at="2026-01-01T00:00:00+00:00"),
            task=Task(kind="classification", labels=["a", "b"]),
            io=IO(inputs=[TensorSpec(name="pixel_values", dtype="float32", shape=["batch", 2])],
                  outputs=[TensorSpec(name="probs", dtype="float32", shape=["batch", 2])],
                  raw_input="image", preprocess=ImagePreprocessSpec(resize=8)),
            opset=17,
            evidence=Evidence(parity=Parity(max_abs_diff=1e-6 if parity_passed else 1e-2,
                                            tolerance=1e-4, passed=parity_passed, batch_sizes=[1, 4],
                                            verified=verified),
                              evaluation=evaluation, latency_ms_b1=latency_ms),
            files={})

    write_bundle(target, fill)
    return target


@pytest.fixture(scope="session")
def store_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty, fully migrated SQLite store, made once: creating one costs seconds of migrations."""
    from zhijian_core.registry import Registry

    home = tmp_path_factory.mktemp("store-template")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ZHIJIAN_HOME", str(home))
        patch.delenv("MLFLOW_TRACKING_URI", raising=False)
        Registry().list_models()
    return home / "mlflow.db"


@pytest.fixture
def seeded_home(store_template: Path) -> Path:
    """This test's ``$ZHIJIAN_HOME``, holding a copy of the migrated empty store."""
    home = Path(os.environ["ZHIJIAN_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(store_template, home / "mlflow.db")
    return home


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory, store_template: Path):
    """One embedded registry store for the whole module (tests use unique model names)."""
    from zhijian_core.registry import Registry

    home = tmp_path_factory.mktemp("registry-home")
    shutil.copyfile(store_template, home / "mlflow.db")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ZHIJIAN_HOME", str(home))
        patch.delenv("MLFLOW_TRACKING_URI", raising=False)
        yield Registry(lock_timeout_s=2.0)


@pytest.fixture
def name() -> str:
    """A model name no other test of the session uses."""
    return f"model-{next(_counter)}"

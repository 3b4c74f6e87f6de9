"""Real PTMs and real data: exports, and the bundle's preprocessing equal to the training tensors."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from zhijian_core.bundle.io import verify_bundle
from zhijian_core.data.config import DataConfig
from zhijian_core.data.load import load_splits
from zhijian_core.experiment.config import parse_experiment
from zhijian_core.experiment.runner import run_experiment
from zhijian_core.experiment.session import Session, resolve_device
from zhijian_core.export import from_method, from_run, write_model_bundle
from zhijian_core.preprocess import build_preprocessor
from zhijian_core.ptm.load import load_ptm
from zhijian_core.runs.store import RunStore
from zhijian_core.train.tensors import tensorize

pytestmark = pytest.mark.realptm


def test_minilm_ncm_bundle_tokenizes_real_tweets_exactly_as_training(tmp_path: Path) -> None:
    data = DataConfig(dataset="airline-tweets", train_size=64, val_size=32, test_size=64)
    source = from_method("ncm", "minilm-l6", data, max_length=64)
    manifest = write_model_bundle(source, "minilm-ncm", tmp_path / "bundle")
    assert verify_bundle(tmp_path / "bundle") == manifest
    assert manifest.evidence.parity.max_abs_diff < 1e-4
    assert manifest.evidence.evaluation.examples == 64

    # The service's path (the bundle's tokenizer file and spec) against the training tensors.
    test = load_splits(data).test
    ptm = load_ptm("minilm-l6")
    trained = tensorize(test, source.preprocess, ptm.assets_dir)
    served = build_preprocessor(manifest.io.preprocess.model_copy(update={"padding": "max_length"}),
                                tmp_path / "bundle")(list(test.inputs))
    width = trained.inputs["input_ids"].shape[1]
    for name, tensor in trained.inputs.items():
        assert np.array_equal(served[name][:, :width], tensor.numpy())
        assert not served["attention_mask"][:, width:].any()


def test_efficientnet_lite0_linear_probe_exports_and_images_preprocess_alike(tmp_path: Path) -> None:
    config = parse_experiment({
        "name": "real-export", "ptm": "efficientnet-lite0", "seeds": [0], "baseline": False,
        "preprocess": {"image_size": 64},
        "data": {"dataset": "fashion-mnist", "train_size": 48, "val_size": 32, "test_size": 64},
        "methods": [{"method": "linear_probe", "train": {"epochs": 3}}]}, "test")
    store = RunStore("real-export")
    (result,) = run_experiment(config, Session(config, store, resolve_device("cpu")))
    manifest = write_model_bundle(from_run(result.run_id, store), "lite0-probe", tmp_path / "b")
    assert verify_bundle(tmp_path / "b") == manifest
    assert manifest.evidence.parity.max_abs_diff < 1e-4
    assert manifest.evidence.evaluation.accuracy == pytest.approx(result.quality.accuracy,
                                                                  abs=1 / 64 + 1e-9)

    spec = manifest.io.preprocess
    test = load_splits(DataConfig.model_validate(result.data_config)).test
    trained = tensorize(test, spec, None).inputs["pixel_values"].numpy()
    served = build_preprocessor(spec, tmp_path / "b")
    pngs, jpegs = [], []
    for pixels in test.inputs:
        for fmt, sink in (("PNG", pngs), ("JPEG", jpegs)):
            buffer = io.BytesIO()
            Image.fromarray(pixels).save(buffer, format=fmt)
            sink.append(buffer.getvalue())
    # PNG is lossless: the encoded bytes give exactly the training tensors.
    assert np.array_equal(served(pngs)["pixel_values"], trained)
    # JPEG is lossy: its bytes give exactly what its decoded pixels give, near the originals.
    decoded = [np.asarray(Image.open(io.BytesIO(data))) for data in jpegs]
    from_bytes = served(jpegs)["pixel_values"]
    assert np.array_equal(from_bytes, served(decoded)["pixel_values"])
    assert float(np.abs(from_bytes - trained).mean()) < 0.1
    assert torch.from_numpy(from_bytes).shape == (64, 3, 64, 64)


@pytest.mark.parametrize(("ptm", "data", "preprocess", "methods"), [
    ("minilm-l6", "airline-tweets", {"max_length": 32},
     [{"method": "lora", "config": {"r": 4, "alpha": 8}},
      {"method": "adapter"}, {"method": "graft", "config": {"blocks": 2}}]),
    ("efficientnet-lite0", "fashion-mnist", {"image_size": 32},
     [{"method": "ssf"}, {"method": "ia3"}]),
], ids=["minilm-l6", "efficientnet-lite0"])
def test_structural_methods_on_real_ptms_export_under_1e4(
        tmp_path: Path, ptm: str, data: str, preprocess: dict, methods: list[dict]) -> None:
    """A merged LoRA, inserted adapters, a graft, merged SSF and IA3 on the real backbones: each
    stored run rebuilds from its architecture and exports with parity under 1e-4."""
    short = {"epochs": 1, "batch_size": 16}
    config = parse_experiment({
        "name": f"real-structural-{ptm}", "ptm": ptm, "seeds": [0], "baseline": False,
        "preprocess": preprocess,
        "data": {"dataset": data, "train_size": 32, "val_size": 16, "test_size": 32},
        "methods": [{**m, "train": short} for m in methods]}, "test")
    store = RunStore(f"real-structural-{ptm}")
    results = run_experiment(config, Session(config, store, resolve_device("cpu")))
    assert [r.method for r in results] == [m["method"] for m in methods]
    for result in results:
        out = tmp_path / result.method
        manifest = write_model_bundle(from_run(result.run_id, store), f"real-{result.method}", out)
        assert verify_bundle(out) == manifest
        assert manifest.evidence.parity.max_abs_diff < 1e-4, result.method

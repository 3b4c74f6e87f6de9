"""Parity batches, the parity check's failure, and what the exporter leaves untouched."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from tests.tiny import tiny_text_ptm, tiny_vit_ptm
from zhijian_core.errors import ExportError
from zhijian_core.export import check_parity, export_onnx, parity_batches, trace_example
from zhijian_core.model import ReuseClassifier

TEXTS = ["the flight was late", "good", "thanks crew, nice seat and great food on the plane",
         "bad service", "ok", "the movie was awful and the seat was bad"]


def test_text_parity_batches_cut_real_examples_to_each_length(tmp_path: Path) -> None:
    ptm = tiny_text_ptm(tmp_path / "bert")
    spec = ptm.preprocess.model_copy(update={"max_length": 12})
    batches, sizes, lengths = parity_batches(spec, ptm.assets_dir, TEXTS, (1, 4, 32), (8, 32))
    assert sizes == [1, 4, 6] and lengths == [8, 12]
    assert [b["input_ids"].shape for b in batches] == [(1, 8), (1, 12), (4, 8), (4, 12), (6, 8),
                                                        (6, 12)]
    assert all(b["attention_mask"][:, 0].all() for b in batches)
    assert (batches[-1]["attention_mask"] == 0).any()  # real padding is compared too
    with pytest.raises(ExportError, match="at least one real input"):
        parity_batches(spec, ptm.assets_dir, [])


def test_parity_over_tolerance_is_refused_with_the_numbers(tmp_path: Path) -> None:
    ptm = tiny_text_ptm(tmp_path / "bert")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = ReuseClassifier(ptm.backbone, 3).eval()
        other = ReuseClassifier(ptm.backbone, 3).eval()
    example = trace_example(ptm.preprocess, ptm.assets_dir, TEXTS)
    graph = export_onnx(model, "classification", ptm.preprocess, example)
    parity = check_parity(model, "classification", graph.model, ptm.preprocess, ptm.assets_dir, TEXTS)
    assert parity.passed and parity.max_abs_diff < 1e-5
    assert parity.batch_sizes == [1, 4, 6] and parity.sequence_lengths == [8, 32, 64]
    with pytest.raises(ExportError, match=r"differs from PyTorch by .* over the tolerance 0\.0001"):
        check_parity(other, "classification", graph.model, ptm.preprocess, ptm.assets_dir, TEXTS)


def test_export_leaves_the_module_as_it_was() -> None:
    ptm = tiny_vit_ptm()
    ptm.preprocess = ptm.preprocess.model_copy(update={"resize": 32, "crop": 32})
    model = ReuseClassifier(ptm.backbone, 2).train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    images = [np.full((40, 40, 3), i * 20, np.uint8) for i in range(3)]
    graph = export_onnx(model, "classification", ptm.preprocess,
                        trace_example(ptm.preprocess, None, images))
    assert model.training and ptm.backbone.model.dynamic_img_size
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert [(t.name, t.shape) for t in graph.inputs] == [("pixel_values", ["batch", 3, 32, 32])]
    assert [(t.name, t.shape) for t in graph.outputs] == [("probabilities", ["batch", 2]),
                                                         ("logits", ["batch", 2])]
    model.eval()
    assert check_parity(model, "classification", graph.model, ptm.preprocess, None,
                        images).max_abs_diff < 1e-4


def test_an_example_without_the_named_inputs_is_refused(tmp_path: Path) -> None:
    ptm = tiny_text_ptm(tmp_path / "bert")
    with pytest.raises(ExportError, match="attention_mask"):
        export_onnx(ptm.backbone, "embedding", ptm.preprocess,
                    {"input_ids": np.ones((1, 3), np.int64)})

"""Datasets to tensors: preprocessing once, batches trimmed to their longest text."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from tests.tiny import tiny_tokenizer_file
from zhijian_core.data.dataset import Dataset
from zhijian_core.preprocess.spec import TextPreprocessSpec
from zhijian_core.train.tensors import iterate_batches, tensorize


def test_text_is_padded_once_and_batches_are_trimmed(tmp_path: Path) -> None:
    tiny_tokenizer_file(tmp_path)
    texts = ["good", "the flight was very late and the crew was awful", "nice seat"]
    data = Dataset("t", "text", texts, np.array([1, 0, 1]), ("neg", "pos"))
    tensors = tensorize(data, TextPreprocessSpec(max_length=32), tmp_path)
    lengths = tensors.inputs["attention_mask"].sum(1)
    assert tensors.inputs["input_ids"].shape[1] == int(lengths.max())
    short = tensors.batch(torch.tensor([0, 2]))
    assert short["input_ids"].shape[1] == int(lengths[[0, 2]].max())
    assert tensors.labels.tolist() == [1, 0, 1]


def test_batches_cover_every_index_once() -> None:
    g = torch.Generator().manual_seed(0)
    seen = torch.cat(list(iterate_batches(10, 4, g)))
    assert sorted(seen.tolist()) == list(range(10))
    assert torch.cat(list(iterate_batches(5, 2, None))).tolist() == [0, 1, 2, 3, 4]

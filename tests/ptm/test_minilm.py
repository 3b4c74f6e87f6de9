"""The packaged MiniLM encoders (real weights): embeddings, and the exact ONNX conversion."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tokenizers import Tokenizer

from zhijian_core.ptm import minilm_onnx
from zhijian_core.ptm.digest import RANDOM_INIT
from zhijian_core.ptm.load import load_ptm
from zhijian_core.ptm.loaded import LoadedPTM
from zhijian_core.ptm.sources import minilm

pytestmark = pytest.mark.realptm

SENTENCES = [
    "The flight was delayed for three hours.",
    "Our plane left three hours late.",
    "I baked a chocolate cake for my sister's birthday.",
    "ok",
]


def encode(ptm: LoadedPTM, texts: list[str]) -> dict[str, torch.Tensor]:
    assert ptm.assets_dir is not None
    tokenizer = Tokenizer.from_file(str(ptm.assets_dir / ptm.preprocess.tokenizer_file))
    tokenizer.enable_truncation(ptm.preprocess.max_length)
    tokenizer.enable_padding(pad_id=ptm.preprocess.pad_token_id)  # to the longest
    encodings = tokenizer.encode_batch(texts)
    return {"input_ids": torch.tensor([e.ids for e in encodings]),
            "attention_mask": torch.tensor([e.attention_mask for e in encodings])}


def paraphrase_margin(ptm: LoadedPTM) -> tuple[float, float]:
    with torch.no_grad():
        emb = torch.nn.functional.normalize(ptm.backbone(encode(ptm, SENTENCES[:3])), dim=-1)
    return float(emb[0] @ emb[1]), float(emb[0] @ emb[2])


def test_minilm_l6_embeds_paraphrases_close() -> None:
    ptm = load_ptm("minilm-l6")
    assert (ptm.identity, ptm.licence, ptm.pretrained) == (
        "sentence-transformers/all-MiniLM-L6-v2", "Apache-2.0", True)
    assert ptm.backbone.feature_dim == 384 and len(ptm.backbone.block_groups()) == 6
    assert len(ptm.digest) == 64 and ptm.preprocess.max_length == 128
    paraphrase, unrelated = paraphrase_margin(ptm)
    assert paraphrase > 0.6 and unrelated < 0.2  # measured 0.73 and 0.10


def test_minilm_l3_matches_onnxruntime_exactly() -> None:
    ort = pytest.importorskip("onnxruntime")
    ptm = load_ptm("minilm-l3")
    assert (ptm.identity, ptm.licence) == ("sentence-transformers/paraphrase-MiniLM-L3-v2",
                                           "Apache-2.0")
    assert len(ptm.backbone.block_groups()) == 3 and ptm.assets_dir == minilm.minilm_l6_folder()
    batch = encode(ptm, SENTENCES)
    session = ort.InferenceSession(str(minilm.minilm_l3_onnx_file()),
                                   providers=["CPUExecutionProvider"])
    feeds = {name: batch[name].numpy().astype(np.int64) for name in ("input_ids", "attention_mask")}
    tokens_ref, pooled_ref = session.run(["onnx::Shape_422", "461"], feeds)
    with torch.no_grad():
        hidden = ptm.backbone.model(**batch).last_hidden_state.numpy()
        pooled = ptm.backbone(batch).numpy()
    mask = batch["attention_mask"].numpy().astype(bool)
    token_diff = float(np.abs(hidden[mask] - tokens_ref[mask]).max())
    pooled_diff = float(np.abs(pooled - pooled_ref).max())
    assert token_diff < 1e-4 and pooled_diff < 1e-4, (token_diff, pooled_diff)
    paraphrase, unrelated = paraphrase_margin(ptm)
    assert paraphrase > 0.5 and unrelated < 0.2  # measured 0.60 and 0.01


def test_minilm_l3_skeleton_reads_no_onnx(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse() -> None:
        raise AssertionError("the skeleton must not read the ONNX file")

    monkeypatch.setattr(minilm, "minilm_l3_onnx_file", refuse)
    skeleton = load_ptm("minilm-l3", pretrained=False)
    assert skeleton.digest == RANDOM_INIT and not skeleton.backbone.training
    names = {n for n, _ in skeleton.backbone.model.named_parameters()}
    assert len(names) == 5 + 3 * 16 and "pooler.dense.weight" not in names


def test_matmul_node_names_map_to_linear_weights() -> None:
    name = "/model/model.0/auto_model/encoder/layer.2/intermediate/dense/MatMul"
    assert minilm_onnx._matmul_weight_name(name) == "encoder.layer.2.intermediate.dense.weight"

"""Partial-k: which layers after the last block train, and how a too large k is refused."""

from __future__ import annotations

import pytest
import timm

from tests.methods.conftest import load_tiny_ptm, make_context, tiny_bert
from zhijian_core.errors import NotApplicableError
from zhijian_core.methods.partial_k import tail_modules
from zhijian_core.methods.registry import create_method
from zhijian_core.ptm.backbone import TimmCNNBackbone, TimmViTBackbone, TransformersTextBackbone


def test_tail_is_the_final_norm_of_a_vit_but_not_its_classifier() -> None:
    backbone = load_tiny_ptm("tiny-vit").backbone
    assert backbone.source_classifier() is not None
    assert tail_modules(backbone) == [backbone.model.norm]


def test_tail_of_an_average_pooled_vit_is_its_fc_norm() -> None:
    model = timm.create_model("test_vit", pretrained=False, img_size=32, global_pool="avg")
    assert tail_modules(TimmViTBackbone(model)) == [model.fc_norm]


def test_tail_of_an_efficientnet_is_its_head_convolution_and_batch_norm() -> None:
    model = timm.create_model("test_efficientnet", pretrained=False)
    assert tail_modules(TimmCNNBackbone(model)) == [model.conv_head, model.bn2]


def test_a_bert_pooler_is_not_part_of_the_tail() -> None:
    from transformers import BertConfig, BertModel

    config = BertConfig(vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=32)
    assert tail_modules(TransformersTextBackbone(BertModel(config))) == []
    assert tail_modules(TransformersTextBackbone(tiny_bert())) == []


@pytest.mark.parametrize(("kind", "count"), [("text", 2), ("vit", 6), ("cnn", 5)])
def test_k_larger_than_the_block_count_names_the_count(kind: str, count: int) -> None:
    ctx = make_context(kind)
    create_method("partial_k", {"k": count}).check_applicable(ctx.ptm)
    with pytest.raises(NotApplicableError,
                       match=f"k={count + 1} does not apply to tiny-{kind}.*only {count} block "
                             f"groups; set k to at most {count}"):
        create_method("partial_k", {"k": count + 1}).build(ctx)

"""VPT: prompts before the first block (shallow) or every block (deep), removed at the end."""

from __future__ import annotations

import pytest
import torch

from tests.methods.conftest import prepare_method, run_eval
from zhijian_core.methods.registry import create_method

TOKENS = 3


def _block_inputs(prepared) -> list[torch.Tensor]:
    inputs: list[torch.Tensor] = []
    backbone = prepared.model.backbone
    handles = [block.register_forward_pre_hook(lambda _m, args: inputs.append(args[0]))
               for block in backbone.block_groups()]
    try:
        run_eval(prepared.model, prepared.batch)
    finally:
        for handle in handles:
            handle.remove()
    return inputs


@pytest.mark.parametrize(("kind", "at"), [("text", 0), ("vit", 1)])
def test_deep_prompts_enter_every_block(kind: str, at: int) -> None:
    prepared = prepare_method(create_method("vpt", {"tokens": TOKENS, "deep": True}), kind)
    prompts = prepared.model.backbone.prompts.tokens
    blocks = len(prepared.ctx.ptm.backbone.block_groups())
    assert prompts.shape == (blocks, TOKENS, prepared.ctx.ptm.backbone.feature_dim)
    inputs = _block_inputs(prepared)
    assert len(inputs) == blocks
    for index, x in enumerate(inputs):
        for row in x[:, at:at + TOKENS]:
            torch.testing.assert_close(row, prompts[index].detach())


@pytest.mark.parametrize(("kind", "at"), [("text", 0), ("vit", 1)])
def test_shallow_prompts_enter_the_first_block_only(kind: str, at: int) -> None:
    prepared = prepare_method(create_method("vpt", {"tokens": TOKENS}), kind)
    prompts = prepared.model.backbone.prompts.tokens
    assert prompts.shape[0] == 1
    first, second = _block_inputs(prepared)[:2]
    torch.testing.assert_close(first[0, at:at + TOKENS], prompts[0].detach())
    assert not torch.allclose(second[0, at:at + TOKENS], prompts[0].detach())


def test_vit_prompts_sit_after_the_class_token_and_leave_the_patch_tokens_in_place() -> None:
    prepared = prepare_method(create_method("vpt", {"tokens": TOKENS}), "vit")
    model = prepared.ctx.ptm.backbone.model
    pixels = prepared.batch["pixel_values"]
    with torch.no_grad():
        tokens = model.norm_pre(model._pos_embed(model.patch_embed(pixels)))
    first = _block_inputs(prepared)[0]
    assert first.shape[1] == tokens.shape[1] + TOKENS
    torch.testing.assert_close(first[:, :1], tokens[:, :1])
    torch.testing.assert_close(first[:, 1 + TOKENS:], tokens[:, 1:])


def test_text_padding_is_masked_for_prompts_and_pooling() -> None:
    prepared = prepare_method(create_method("vpt", {"tokens": TOKENS, "deep": True}), "text")
    batch = prepared.batch
    longer = {"input_ids": torch.cat([batch["input_ids"], torch.zeros_like(batch["input_ids"])], 1),
              "attention_mask": torch.cat([batch["attention_mask"],
                                           torch.zeros_like(batch["attention_mask"])], 1)}
    torch.testing.assert_close(run_eval(prepared.model, longer), run_eval(prepared.model, batch),
                               atol=1e-5, rtol=1e-5)

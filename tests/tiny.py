"""Tiny, deterministic PTMs for fast contract tests, all loaded through ``load_ptm``.

Import them as ``from tests.tiny import tiny_text_ptm, tiny_vit_ptm, tiny_cnn_ptm``. Weights are
random but seeded (the global RNG state is left untouched), so tests may assert exact values.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor

from zhijian_core.ptm.load import load_ptm
from zhijian_core.ptm.loaded import LoadedPTM

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
WORDS = ("the a an is was it this that and or not very so good great nice love happy bad awful "
         "terrible hate sad movie film flight plane delay late time service crew seat food fine "
         "thanks cat dog car red blue").split()
LETTERS = "abcdefghijklmnopqrstuvwxyz0123456789"


def tiny_tokenizer_vocab() -> dict[str, int]:
    """The WordPiece vocabulary of the tiny tokenizer: specials, a few words, single characters."""
    tokens = SPECIAL_TOKENS + WORDS + list(LETTERS) + [f"##{c}" for c in LETTERS] + list(".,!?'")
    return {token: i for i, token in enumerate(dict.fromkeys(tokens))}


def tiny_tokenizer_file(path: Path) -> Path:
    """Write a BERT-style (uncased WordPiece) ``tokenizer.json`` into folder ``path``; return it."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    vocab = tiny_tokenizer_vocab()
    tokenizer = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]", max_input_chars_per_word=100))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])])
    tokenizer.decoder = decoders.WordPiece()
    path.mkdir(parents=True, exist_ok=True)
    target = path / "tokenizer.json"
    tokenizer.save(str(target))
    return target


def tiny_bert_dir(path: Path, seed: int = 0) -> Path:
    """Save a tiny BERT (hidden 32, 2 layers, 2 heads) with its tokenizer into folder ``path``.

    Args:
        path: The folder to write (created if needed): ``config.json``, ``model.safetensors``,
            ``tokenizer.json``.
        seed: Seed of the random weights.

    Returns:
        ``path``.
    """
    from transformers import BertConfig, BertModel

    tiny_tokenizer_file(path)
    config = BertConfig(vocab_size=len(tiny_tokenizer_vocab()), hidden_size=32,
                        num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                        max_position_embeddings=64, pad_token_id=0)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = BertModel(config)
    model.save_pretrained(str(path))
    return path


def tiny_text_ptm(path: Path, seed: int = 0) -> LoadedPTM:
    """Load the tiny BERT saved into folder ``path`` through ``load_ptm('local:<path>')``."""
    return load_ptm(f"local:{tiny_bert_dir(path, seed=seed)}")


def _seeded_timm(name: str, seed: int) -> LoadedPTM:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return load_ptm(f"timm:{name}")


def tiny_vit_ptm(seed: int = 0) -> LoadedPTM:
    """timm's ``test_vit`` (6 blocks, width 64, 160 px) with seeded random weights."""
    return _seeded_timm("test_vit", seed)


def tiny_cnn_ptm(seed: int = 0) -> LoadedPTM:
    """timm's ``test_efficientnet`` (5 stages, 256 features) with seeded random weights."""
    return _seeded_timm("test_efficientnet", seed)


def random_batch(ptm: LoadedPTM, batch_size: int = 2, seq_len: int = 8,
                 seed: int = 0) -> dict[str, Tensor]:
    """A seeded random input batch for ``ptm`` (token ids and a ragged mask, or images).

    Args:
        ptm: The loaded PTM whose inputs are produced.
        batch_size: Number of examples.
        seq_len: Token count for text PTMs.
        seed: Seed of the generator.

    Returns:
        Tensors named as the backbone's ``input_names``.
    """
    generator = torch.Generator().manual_seed(seed)
    if ptm.backbone.kind == "text":
        vocab = int(ptm.backbone.model.config.vocab_size)
        ids = torch.randint(len(SPECIAL_TOKENS), vocab, (batch_size, seq_len), generator=generator)
        mask = torch.ones(batch_size, seq_len, dtype=torch.long)
        mask[1:, seq_len // 2:] = 0  # later examples are padded: pooling must respect the mask
        ids[mask == 0] = ptm.preprocess.pad_token_id
        return {"input_ids": ids, "attention_mask": mask}
    side = ptm.preprocess.crop or ptm.preprocess.resize
    return {"pixel_values": torch.randn(batch_size, 3, side, side, generator=generator)}

"""``hf:<dir>`` and ``local:<dir>`` on a tiny BERT saved with save_pretrained."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from tokenizers import Tokenizer

from tests.tiny import random_batch, tiny_bert_dir, tiny_text_ptm, tiny_tokenizer_vocab
from zhijian_core.errors import PTMError
from zhijian_core.ptm.backbone import TransformersTextBackbone
from zhijian_core.ptm.digest import RANDOM_INIT, file_sha256
from zhijian_core.ptm.load import load_ptm


@pytest.fixture(scope="module")
def bert_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_bert_dir(tmp_path_factory.mktemp("tiny-bert"))


@pytest.mark.parametrize("kind", ["hf", "local"])
def test_tiny_bert_loads(bert_dir: Path, kind: str) -> None:
    ptm = load_ptm(f"{kind}:{bert_dir}")
    assert isinstance(ptm.backbone, TransformersTextBackbone) and ptm.backbone.feature_dim == 32
    assert ptm.spec == f"{kind}:{bert_dir}" and ptm.identity == str(bert_dir)
    assert ptm.pretrained and ptm.digest == file_sha256(bert_dir / "model.safetensors")
    assert ptm.assets_dir == bert_dir and ptm.licence is None
    assert len(ptm.backbone.block_groups()) == 2 and not ptm.backbone.training
    pre = ptm.preprocess
    assert (pre.tokenizer_file, pre.max_length, pre.pad_token_id) == ("tokenizer.json", 64, 0)
    assert pre.input_names == ("input_ids", "attention_mask")
    tokenizer = Tokenizer.from_file(str(ptm.assets_dir / pre.tokenizer_file))
    assert tokenizer.encode("the movie was great").tokens == ["[CLS]", "the", "movie", "was",
                                                              "great", "[SEP]"]


def test_features_follow_the_mask(bert_dir: Path) -> None:
    ptm = tiny_text_ptm(bert_dir)
    batch = random_batch(ptm, batch_size=2, seq_len=8)
    with torch.no_grad():
        features = ptm.backbone(batch)
        short = ptm.backbone({k: v[1:, :4] for k, v in batch.items()})
    assert features.shape == (2, 32)
    torch.testing.assert_close(features[1:], short, atol=1e-5, rtol=1e-5)  # padding is ignored


def test_skeleton_has_the_same_architecture(bert_dir: Path) -> None:
    loaded = load_ptm(f"local:{bert_dir}")
    skeleton = load_ptm(f"local:{bert_dir}", pretrained=False)
    assert skeleton.digest == RANDOM_INIT and skeleton.pretrained is False
    assert not skeleton.backbone.training
    shapes = {k: v.shape for k, v in loaded.backbone.state_dict().items()}
    assert {k: v.shape for k, v in skeleton.backbone.state_dict().items()} == shapes
    skeleton.backbone.load_state_dict(loaded.backbone.state_dict())


def test_tokenizer_is_built_from_vocab_txt_into_the_cache(
        bert_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "vocab-only"
    folder.mkdir()
    for name in ("config.json", "model.safetensors"):
        (folder / name).write_bytes((bert_dir / name).read_bytes())
    vocab = tiny_tokenizer_vocab()
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    (folder / "README.md").write_text("---\nlicense: apache-2.0\n---\n# tiny\n", encoding="utf-8")
    monkeypatch.setenv("ZHIJIAN_CACHE_DIR", str(tmp_path / "cache"))
    ptm = load_ptm(f"local:{folder}")
    assert ptm.assets_dir is not None and ptm.assets_dir.parent == tmp_path / "cache" / "tokenizers"
    assert ptm.licence == "Apache-2.0"
    tokenizer = Tokenizer.from_file(str(ptm.assets_dir / "tokenizer.json"))
    encoded = tokenizer.encode("The Flight was LATE!")
    assert encoded.tokens == ["[CLS]", "the", "flight", "was", "late", "!", "[SEP]"]
    assert encoded.ids[1] == vocab["the"]
    assert load_ptm(f"local:{folder}").assets_dir == ptm.assets_dir  # built once, then reused


def test_folder_without_config(tmp_path: Path) -> None:
    with pytest.raises(PTMError, match="not a transformers model folder"):
        load_ptm(f"local:{tmp_path}")


def test_folder_without_tokenizer(bert_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "config.json").write_bytes((bert_dir / "config.json").read_bytes())
    with pytest.raises(PTMError, match="no tokenizer.json and no vocab.txt"):
        load_ptm(f"local:{tmp_path}")


def test_non_bert_model_is_refused(bert_dir: Path, tmp_path: Path) -> None:
    config = json.loads((bert_dir / "config.json").read_text())
    config["model_type"] = "gpt2"
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(PTMError, match="holds a 'gpt2' model; only BERT-family encoders"):
        load_ptm(f"local:{tmp_path}")


def test_uncached_hub_id_is_refused_without_download() -> None:
    with pytest.raises(PTMError, match="not in the local Hugging Face cache"):
        load_ptm("hf:zhijian-tests/no-such-model")


def test_cached_hub_id_loads_from_the_local_cache(bert_dir: Path, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from huggingface_hub import constants

    commit = "0" * 40
    repo = tmp_path / "hub" / "models--zhijian-tests--tiny-bert"
    snapshot = repo / "snapshots" / commit
    snapshot.mkdir(parents=True)
    for name in ("config.json", "model.safetensors", "tokenizer.json"):
        (snapshot / name).write_bytes((bert_dir / name).read_bytes())
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    ptm = load_ptm("hf:zhijian-tests/tiny-bert")
    assert ptm.spec == "hf:zhijian-tests/tiny-bert" and ptm.identity == "zhijian-tests/tiny-bert"
    assert ptm.assets_dir == snapshot and ptm.digest == file_sha256(bert_dir / "model.safetensors")

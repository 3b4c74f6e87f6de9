"""TextPreprocessor: exact ids, masks, padding and truncation with tokenizers built here."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError
from tokenizers import Tokenizer, models, pre_tokenizers, processors

from zhijian_core.errors import ConfigError, PreprocessError
from zhijian_core.preprocess import TextPreprocessor, TextPreprocessSpec, build_preprocessor

VOCAB = {"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3, "hello": 4, "world": 5, "a": 6, "b": 7}


def _with_bert_template(tokenizer: Tokenizer) -> Tokenizer:
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", 2), ("[SEP]", 3)])
    return tokenizer


@pytest.fixture()
def assets(tmp_path: Path) -> Path:
    """A WordLevel tokenizer whose file stores padding and truncation settings we must ignore."""
    tokenizer = _with_bert_template(Tokenizer(models.WordLevel(VOCAB, unk_token="[UNK]")))
    tokenizer.enable_padding(pad_id=0, pad_token="[PAD]", length=50)
    tokenizer.enable_truncation(max_length=3)
    tokenizer.save(str(tmp_path / "tokenizer.json"))
    return tmp_path


def test_longest_padding_exact_values(assets: Path) -> None:
    spec = TextPreprocessSpec(pad_token_id=9, input_names=("input_ids", "attention_mask", "token_type_ids"))
    out = TextPreprocessor(spec, assets)(["hello world", "a", "zzz b"])
    assert list(out) == ["input_ids", "attention_mask", "token_type_ids"]
    np.testing.assert_array_equal(out["input_ids"], [[2, 4, 5, 3], [2, 6, 3, 9], [2, 1, 7, 3]])
    np.testing.assert_array_equal(out["attention_mask"], [[1, 1, 1, 1], [1, 1, 1, 0], [1, 1, 1, 1]])
    np.testing.assert_array_equal(out["token_type_ids"], np.zeros((3, 4)))
    assert all(array.dtype == np.int64 for array in out.values())


def test_max_length_padding_and_truncation_count_specials(assets: Path) -> None:
    spec = TextPreprocessSpec(max_length=6, padding="max_length")
    out = TextPreprocessor(spec, assets)(["a b a b a b a", ""])
    np.testing.assert_array_equal(out["input_ids"], [[2, 6, 7, 6, 7, 3], [2, 3, 0, 0, 0, 0]])
    np.testing.assert_array_equal(out["attention_mask"], [[1] * 6, [1, 1, 0, 0, 0, 0]])
    short = TextPreprocessor(TextPreprocessSpec(max_length=3), assets)(["hello world"])
    np.testing.assert_array_equal(short["input_ids"], [[2, 4, 3]])


def test_spec_decides_not_the_stored_settings(assets: Path) -> None:
    # The file pads to 50 and truncates to 3; the spec's defaults (longest, 128) must win.
    out = TextPreprocessor(TextPreprocessSpec(), assets)(["hello world a b"])
    np.testing.assert_array_equal(out["input_ids"], [[2, 4, 5, 6, 7, 3]])


def test_input_names_order_is_the_specs(assets: Path) -> None:
    out = TextPreprocessor(TextPreprocessSpec(input_names=("attention_mask", "input_ids")), assets)(["a"])
    assert list(out) == ["attention_mask", "input_ids"]


def test_wordpiece_subwords_are_truncated_as_tokens(tmp_path: Path) -> None:
    vocab = {"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3, "un": 4, "##aff": 5, "##able": 6, "run": 7}
    tokenizer = _with_bert_template(Tokenizer(models.WordPiece(vocab, unk_token="[UNK]")))
    tokenizer.save(str(tmp_path / "wp.json"))
    spec = TextPreprocessSpec(tokenizer_file="wp.json", max_length=4)
    out = TextPreprocessor(spec, tmp_path)(["unaffable", "run"])
    np.testing.assert_array_equal(out["input_ids"], [[2, 4, 5, 3], [2, 7, 3, 0]])


@pytest.mark.parametrize("bad", [[], ["ok", 3], ["ok", None], "a single string"])
def test_bad_batches_are_refused(assets: Path, bad: object) -> None:
    with pytest.raises(PreprocessError):
        TextPreprocessor(TextPreprocessSpec(), assets)(bad)  # type: ignore[arg-type]


def test_missing_and_malformed_tokenizer_files(tmp_path: Path) -> None:
    with pytest.raises(PreprocessError, match="not found"):
        TextPreprocessor(TextPreprocessSpec(), tmp_path)
    (tmp_path / "tokenizer.json").write_text("{not json")
    with pytest.raises(PreprocessError, match="cannot read"):
        TextPreprocessor(TextPreprocessSpec(), tmp_path)


def test_max_length_must_leave_room_beside_specials(assets: Path) -> None:
    with pytest.raises(PreprocessError, match="special"):
        TextPreprocessor(TextPreprocessSpec(max_length=2), assets)


@pytest.mark.parametrize("names", [("input_ids", "pixel_values"), ("attention_mask",),
                                   ("input_ids", "input_ids")])
def test_spec_refuses_bad_input_names(names: tuple[str, ...]) -> None:
    with pytest.raises(ValidationError):
        TextPreprocessSpec(input_names=names)


def test_build_preprocessor_needs_assets_for_text(assets: Path) -> None:
    assert isinstance(build_preprocessor(TextPreprocessSpec(), assets), TextPreprocessor)
    with pytest.raises(ConfigError, match="assets_dir"):
        build_preprocessor(TextPreprocessSpec(), None)
    with pytest.raises(ConfigError, match="unknown"):
        build_preprocessor("text", None)  # type: ignore[arg-type]

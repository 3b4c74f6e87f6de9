"""Text to model tensors with a `tokenizers` JSON file, decided by a :class:`TextPreprocessSpec` alone."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
from tokenizers import Tokenizer

from zhijian_core.errors import PreprocessError
from zhijian_core.preprocess.spec import TextPreprocessSpec


class TextPreprocessor:
    """Tokenize a batch of strings into int64 ``input_ids``, ``attention_mask`` (and ``token_type_ids``).

    Any padding or truncation stored in the tokenizer file is switched off: the spec alone decides.
    Sequences are truncated at the end to ``spec.max_length`` tokens, special tokens included, then
    padded on the right with ``spec.pad_token_id`` (mask 0) to the batch's longest sequence or to
    ``spec.max_length``. ``token_type_ids`` are the tokenizer's type ids (all zero for one sentence)
    padded with zeros.

    Args:
        spec: The text preprocessing spec.
        assets_dir: Folder holding ``spec.tokenizer_file``.

    Raises:
        PreprocessError: The tokenizer file is missing or cannot be read, or ``spec.max_length``
            leaves no room beside the special tokens.
    """

    def __init__(self, spec: TextPreprocessSpec, assets_dir: Path) -> None:
        path = Path(assets_dir) / spec.tokenizer_file
        if not path.is_file():
            raise PreprocessError(
                f"tokenizer file {path} not found; put the tokenizer JSON there or set tokenizer_file")
        try:
            tokenizer = Tokenizer.from_file(str(path))
        except Exception as exc:  # tokenizers raises plain Exception for malformed files
            raise PreprocessError(f"cannot read tokenizer file {path}: {exc}") from exc
        tokenizer.no_padding()
        tokenizer.no_truncation()
        specials = tokenizer.num_special_tokens_to_add(is_pair=False)
        if spec.max_length <= specials:
            # tokenizers would silently return sequences longer than max_length.
            raise PreprocessError(
                f"max_length {spec.max_length} leaves no room for text beside the {specials} special "
                f"tokens {path.name} adds; raise max_length")
        tokenizer.enable_truncation(max_length=spec.max_length, direction="right")
        self._spec = spec
        self._tokenizer = tokenizer

    @property
    def spec(self) -> TextPreprocessSpec:
        """The spec this preprocessor follows."""
        return self._spec

    @property
    def input_names(self) -> tuple[str, ...]:
        """Names of the tensors produced, in model-input order."""
        return self._spec.input_names

    def __call__(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """Tokenize ``texts`` into padded int64 arrays of shape ``(batch, length)``.

        Args:
            texts: The strings of one batch.

        Returns:
            One array per name in ``spec.input_names``.

        Raises:
            PreprocessError: The batch is empty, is a single string, or holds a non-string item.
        """
        if isinstance(texts, (str, bytes)):
            raise PreprocessError("expected a sequence of strings, got a single string; wrap it in a list")
        texts = list(texts)
        if not texts:
            raise PreprocessError("empty batch: give at least one text")
        for position, text in enumerate(texts):
            if not isinstance(text, str):
                raise PreprocessError(f"text {position} is a {type(text).__name__}, not a str")
        try:
            encodings = self._tokenizer.encode_batch(texts, add_special_tokens=True)
        except Exception as exc:
            raise PreprocessError(f"tokenization failed: {exc}") from exc
        lengths = [len(encoding.ids) for encoding in encodings]
        if max(lengths) > self._spec.max_length:
            raise PreprocessError(f"the tokenizer returned {max(lengths)} tokens, more than max_length "
                                  f"{self._spec.max_length}")
        width = self._spec.max_length if self._spec.padding == "max_length" else max(lengths)
        input_ids = np.full((len(texts), width), self._spec.pad_token_id, dtype=np.int64)
        attention_mask = np.zeros((len(texts), width), dtype=np.int64)
        token_type_ids = np.zeros((len(texts), width), dtype=np.int64)
        for row, (encoding, length) in enumerate(zip(encodings, lengths)):
            input_ids[row, :length] = encoding.ids
            attention_mask[row, :length] = 1
            token_type_ids[row, :length] = encoding.type_ids
        tensors = {"input_ids": input_ids, "attention_mask": attention_mask,
                   "token_type_ids": token_type_ids}
        return {name: tensors[name] for name in self._spec.input_names}

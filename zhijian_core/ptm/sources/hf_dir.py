"""``hf:<dir or hub id>`` and ``local:<dir>``: a BERT-family encoder saved by transformers.

The folder holds ``config.json`` and the weights (``model.safetensors`` or ``pytorch_model.bin``),
plus a ``tokenizer.json``; when only a ``vocab.txt`` is there, a WordPiece ``tokenizer.json`` is
built once into ``<cache>/tokenizers/<vocab.txt digest>-<case>/`` (with the ``tokenizers``
library, which also backs transformers' fast tokenizers). A hub id is resolved from the local
Hugging Face cache only: nothing is ever downloaded.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from zhijian_core.errors import MissingDependencyError, PTMError
from zhijian_core.preprocess.spec import TextPreprocessSpec
from zhijian_core.ptm.digest import RANDOM_INIT, file_sha256, state_dict_sha256
from zhijian_core.ptm.loaded import LoadedPTM
from zhijian_core.ptm.sources.common import (quiet_transformers_progress, readme_licence,
                                             zhijian_cache_dir)
from zhijian_core.ptm.sources.registry import register_source
from zhijian_core.ptm.spec import PTMSpec

SUPPORTED_MODEL_TYPES: tuple[str, ...] = ("bert",)
"""transformers ``model_type`` values accepted as text backbones (BERT-family encoders)."""

MAX_TEXT_LENGTH = 128
"""Upper bound of the tokenized length, below the model's own position limit."""

_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


def _is_hub_id(spec: PTMSpec) -> bool:
    return spec.kind == "hf" and not Path(spec.name).is_absolute()


def _resolve_folder(spec: PTMSpec) -> Path:
    if _is_hub_id(spec):
        try:
            from huggingface_hub import snapshot_download
            from huggingface_hub.errors import LocalEntryNotFoundError
        except ImportError as exc:
            raise MissingDependencyError(
                "huggingface_hub (installed with transformers) is needed for hub ids; "
                "pip install 'zhijian[train]'") from exc
        try:
            return Path(snapshot_download(repo_id=spec.name, local_files_only=True))
        except LocalEntryNotFoundError as exc:
            raise PTMError(f"hub id {spec.name!r} is not in the local Hugging Face cache and "
                           "nothing is downloaded here; save the model with save_pretrained "
                           "and use 'local:<directory>'") from exc
    folder = Path(spec.name)
    if not (folder / "config.json").is_file():
        raise PTMError(f"{folder} is not a transformers model folder (no config.json) "
                       f"(from spec {spec.raw!r})")
    return folder


def tokenizer_folder(folder: Path) -> Path:
    """Return a folder holding ``tokenizer.json`` for the model in ``folder``.

    Args:
        folder: A transformers model folder.

    Returns:
        ``folder`` itself when it has ``tokenizer.json``; else the cache folder of a WordPiece
        tokenizer built from its ``vocab.txt`` (lower-casing as its ``tokenizer_config.json`` says).

    Raises:
        PTMError: Neither ``tokenizer.json`` nor ``vocab.txt`` is there.
    """
    if (folder / "tokenizer.json").is_file():
        return folder
    vocab = folder / "vocab.txt"
    if not vocab.is_file():
        raise PTMError(f"{folder} has no tokenizer.json and no vocab.txt to build one from; "
                       "save the tokenizer with save_pretrained next to the model")
    lowercase = True
    config_file = folder / "tokenizer_config.json"
    if config_file.is_file():
        lowercase = bool(json.loads(config_file.read_text(encoding="utf-8"))
                         .get("do_lower_case", True))
    key = file_sha256(vocab)[:32] + ("-uncased" if lowercase else "-cased")
    target = zhijian_cache_dir() / "tokenizers" / key
    if not (target / "tokenizer.json").is_file():
        from tokenizers.implementations import BertWordPieceTokenizer

        tokenizer = BertWordPieceTokenizer(str(vocab), lowercase=lowercase)
        target.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target, suffix=".tmp")
        os.close(fd)
        tokenizer.save(tmp)
        os.replace(tmp, target / "tokenizer.json")  # atomic: concurrent builders never see half
    return target


def text_preprocess(config: Any, tokenizer_dir: Path) -> TextPreprocessSpec:
    """Build the text preprocessing of a transformers encoder.

    Args:
        config: The model's transformers config.
        tokenizer_dir: Folder holding ``tokenizer.json``.

    Returns:
        Tokenize with ``tokenizer.json``; at most ``min(max positions, 128)`` tokens.
    """
    pad_id = getattr(config, "pad_token_id", None)
    if pad_id is None:
        from tokenizers import Tokenizer

        pad_id = Tokenizer.from_file(str(tokenizer_dir / "tokenizer.json")).token_to_id("[PAD]")
        if pad_id is None:
            raise PTMError(f"cannot tell the padding id: the config has no pad_token_id and "
                           f"{tokenizer_dir / 'tokenizer.json'} has no [PAD] token")
    return TextPreprocessSpec(
        tokenizer_file="tokenizer.json",
        max_length=min(int(config.max_position_embeddings), MAX_TEXT_LENGTH),
        pad_token_id=int(pad_id),
        input_names=("input_ids", "attention_mask"),
    )


def load_transformers_folder(folder: Path, spec_text: str, identity: str, licence: str | None,
                             pretrained: bool) -> LoadedPTM:
    """Load a BERT-family encoder from a local transformers folder.

    Args:
        folder: Folder with ``config.json``, the weights and a tokenizer.
        spec_text: The normalised spec recorded in the result.
        identity: The upstream identity recorded in the result.
        licence: The licence of the weights, if known.
        pretrained: Load the weights; ``False`` builds the architecture from the config only.

    Returns:
        The encoder behind :class:`TransformersTextBackbone` with mean pooling.

    Raises:
        PTMError: The config is not a supported encoder, or the weights cannot be loaded.
    """
    import torch
    from transformers import AutoConfig, AutoModel

    from zhijian_core.ptm.backbone import TransformersTextBackbone

    try:
        config = AutoConfig.from_pretrained(str(folder))
    except (OSError, ValueError) as exc:
        raise PTMError(f"cannot read the transformers config in {folder}: {exc}") from exc
    if config.model_type not in SUPPORTED_MODEL_TYPES:
        raise PTMError(f"{folder} holds a '{config.model_type}' model; only BERT-family "
                       f"encoders (model_type {', '.join(SUPPORTED_MODEL_TYPES)}) are supported "
                       "as text backbones")
    assets = tokenizer_folder(folder)
    digest = RANDOM_INIT
    if pretrained:
        try:
            with quiet_transformers_progress():
                # No pooler: the features are mean-pooled, so a pooler would be dead weight
                # that counts as trainable and never gets a gradient.
                model = AutoModel.from_pretrained(str(folder), attn_implementation="eager",
                                                  dtype=torch.float32, add_pooling_layer=False)
        except (OSError, ValueError, RuntimeError) as exc:
            raise PTMError(f"cannot load the weights in {folder}: {exc}") from exc
        weight_files = [folder / n for n in _WEIGHT_FILES if (folder / n).is_file()]
        digest = (file_sha256(weight_files[0]) if weight_files
                  else state_dict_sha256(model.state_dict()))  # sharded: hash what was loaded
    else:
        model = AutoModel.from_config(config, attn_implementation="eager", dtype=torch.float32,
                                      add_pooling_layer=False)
    return LoadedPTM(
        spec=spec_text,
        backbone=TransformersTextBackbone(model),
        preprocess=text_preprocess(config, assets),
        assets_dir=assets,
        identity=identity,
        digest=digest,
        licence=licence,
        pretrained=pretrained,
    )


def load_hf_dir(spec: PTMSpec, pretrained: bool) -> LoadedPTM:
    """Load an ``hf:`` or ``local:`` spec (see the module docstring).

    Args:
        spec: A parsed ``hf`` or ``local`` spec.
        pretrained: Load the weights; ``False`` builds the architecture from the config only.

    Returns:
        The encoder behind :class:`TransformersTextBackbone`.

    Raises:
        PTMError: The folder or cached hub id is missing or holds no supported encoder.
    """
    folder = _resolve_folder(spec)
    identity = spec.name if _is_hub_id(spec) else str(folder)
    return load_transformers_folder(folder, spec.normalized, identity, readme_licence(folder),
                                    pretrained)


register_source("hf", load_hf_dir)
register_source("local", load_hf_dir)

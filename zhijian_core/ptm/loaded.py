"""What loading a PTM gives: the backbone behind the protocol, its preprocessing and its identity."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from zhijian_core.preprocess.spec import ImagePreprocessSpec, TextPreprocessSpec
from zhijian_core.ptm.backbone import Backbone


@dataclass
class LoadedPTM:
    """A pre-trained model ready for reuse.

    Attributes:
        spec: The spec string it was loaded from, normalised (``minilm-l6``, ``timm:vit_tiny...``).
        backbone: The model behind the :class:`Backbone` protocol.
        preprocess: The closed preprocessing spec that produces this backbone's inputs.
        assets_dir: Folder holding the files ``preprocess`` names (tokenizer file); ``None`` for images.
        identity: Human-readable upstream identity (``sentence-transformers/all-MiniLM-L6-v2``).
        digest: SHA-256 of the weights as loaded (``random-init`` when not pre-trained).
        licence: Licence of the weights where known.
        pretrained: Whether pre-trained weights were loaded (``False`` for a random-init skeleton).
    """

    spec: str
    backbone: Backbone
    preprocess: TextPreprocessSpec | ImagePreprocessSpec
    assets_dir: Path | None
    identity: str
    digest: str
    licence: str | None
    pretrained: bool = True

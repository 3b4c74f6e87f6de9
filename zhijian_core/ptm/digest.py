"""SHA-256 digests that identify the weights a PTM was loaded with.

A weights file is hashed byte for byte; weights converted from another format (the ONNX MiniLM-L3)
are hashed as a state dict: every tensor in sorted-name order, with its name, dtype and shape, so
that two equal state dicts always give the same digest.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, Mapping

if TYPE_CHECKING:
    from torch import Tensor

RANDOM_INIT = "random-init"
"""The digest recorded for a model whose weights were not loaded from anywhere."""

_CHUNK = 1 << 20


def file_sha256(path: Path) -> str:
    """Return the hex SHA-256 of the bytes of ``path``.

    Args:
        path: A weights file.

    Returns:
        The 64-character hex digest.
    """
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def state_dict_sha256(state_dict: Mapping[str, Tensor]) -> str:
    """Return the hex SHA-256 of a state dict's tensors in sorted-name order.

    Each entry contributes its name, dtype, shape and raw bytes (on CPU, contiguous), so renaming,
    reshaping or re-typing a tensor changes the digest.

    Args:
        state_dict: Tensors by name, as returned by ``nn.Module.state_dict()``.

    Returns:
        The 64-character hex digest.
    """
    import torch

    digest = hashlib.sha256()
    for name in sorted(state_dict):
        tensor = state_dict[name].detach().cpu().contiguous()
        header = f"{name}|{tensor.dtype}|{tuple(tensor.shape)}\n"
        digest.update(header.encode("utf-8"))
        if tensor.numel():  # raw bytes of any dtype (bfloat16 has no numpy twin)
            digest.update(tensor.reshape(-1).view(torch.uint8).numpy())
    return digest.hexdigest()

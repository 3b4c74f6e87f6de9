"""Weight digests: file bytes, and state dicts in sorted-name order."""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch

from zhijian_core.ptm.digest import file_sha256, state_dict_sha256


def test_file_digest_is_sha256_of_the_bytes(tmp_path: Path) -> None:
    data = bytes(range(256)) * 5000  # over one read chunk
    (tmp_path / "w.bin").write_bytes(data)
    assert file_sha256(tmp_path / "w.bin") == hashlib.sha256(data).hexdigest()


def test_state_dict_digest_ignores_insertion_order() -> None:
    a, b = torch.arange(6.0).reshape(2, 3), torch.ones(4, dtype=torch.bfloat16)
    assert state_dict_sha256({"a": a, "b": b}) == state_dict_sha256({"b": b, "a": a})


def test_state_dict_digest_sees_values_names_shapes_and_dtypes() -> None:
    a = torch.arange(6.0).reshape(2, 3)
    base = state_dict_sha256({"a": a})
    assert state_dict_sha256({"a": a.clone()}) == base
    assert state_dict_sha256({"a": a + 1}) != base
    assert state_dict_sha256({"x": a}) != base
    assert state_dict_sha256({"a": a.reshape(3, 2)}) != base
    assert state_dict_sha256({"a": a.double()}) != base
    assert state_dict_sha256({"a": a.t()}) == state_dict_sha256({"a": a.t().contiguous()})


def test_state_dict_digest_known_value() -> None:
    expected = hashlib.sha256(b"w|torch.float32|(2,)\n"
                              + torch.tensor([1.0, 2.0]).numpy().tobytes()).hexdigest()
    assert state_dict_sha256({"w": torch.tensor([1.0, 2.0])}) == expected

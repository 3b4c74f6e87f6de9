"""Open Inference Protocol v2 datatypes, their numpy equivalents, and the BYTES wire format.

A BYTES tensor travels in Triton's binary extension as its elements in row-major order, each a
4-byte little-endian length followed by that many bytes.
"""

from __future__ import annotations

import struct

import numpy as np

from services.errors import InvalidInputError

NUMPY_DTYPES: dict[str, np.dtype] = {
    "BOOL": np.dtype(np.bool_),
    "UINT8": np.dtype(np.uint8),
    "UINT16": np.dtype(np.uint16),
    "UINT32": np.dtype(np.uint32),
    "UINT64": np.dtype(np.uint64),
    "INT8": np.dtype(np.int8),
    "INT16": np.dtype(np.int16),
    "INT32": np.dtype(np.int32),
    "INT64": np.dtype(np.int64),
    "FP16": np.dtype(np.float16),
    "FP32": np.dtype(np.float32),
    "FP64": np.dtype(np.float64),
}
"""Fixed-size OIP datatypes and their little-endian numpy dtypes."""
BYTES = "BYTES"
"""The variable-length datatype (text, encoded images)."""
DATATYPES = frozenset(NUMPY_DTYPES) | {BYTES}
"""Every datatype this server reads and writes (BF16 is not among them)."""

_OIP_OF_MANIFEST = {"int64": "INT64", "int32": "INT32", "float32": "FP32", "float16": "FP16"}
_LENGTH = struct.Struct("<I")


def datatype_of_manifest(dtype: str) -> str:
    """OIP datatype of a manifest tensor dtype (``float32`` -> ``FP32``)."""
    return _OIP_OF_MANIFEST[dtype]


def datatype_of_array(array: np.ndarray) -> str:
    """OIP datatype of a numpy array (``object`` arrays of bytes are BYTES)."""
    if array.dtype == np.object_:
        return BYTES
    for name, dtype in NUMPY_DTYPES.items():
        if array.dtype == dtype:
            return name
    raise InvalidInputError(f"numpy dtype {array.dtype} has no Open Inference Protocol datatype")


def check_datatype(datatype: str, where: str) -> str:
    """Return ``datatype`` if the server reads it, else raise :class:`InvalidInputError`."""
    if datatype not in DATATYPES:
        raise InvalidInputError(f"{where}: datatype {datatype!r} is not supported; use one of "
                                f"{sorted(DATATYPES)}")
    return datatype


def encode_bytes_elements(items: list[bytes]) -> bytes:
    """Serialize BYTES elements: each a 4-byte little-endian length, then its bytes."""
    return b"".join(_LENGTH.pack(len(item)) + item for item in items)


def decode_bytes_elements(buffer: bytes | memoryview, count: int, where: str) -> list[bytes]:
    """Parse exactly ``count`` length-prefixed elements that fill ``buffer`` exactly.

    Raises:
        InvalidInputError: A length runs past the end, or the element count or total size differs.
    """
    view = memoryview(buffer)
    items, offset = [], 0
    while offset < len(view):
        if offset + 4 > len(view):
            raise InvalidInputError(f"{where}: BYTES data ends inside an element's 4-byte length")
        (length,) = _LENGTH.unpack_from(view, offset)
        offset += 4
        if offset + length > len(view):
            raise InvalidInputError(f"{where}: BYTES element {len(items)} declares {length} bytes but "
                                    f"only {len(view) - offset} remain")
        items.append(bytes(view[offset:offset + length]))
        offset += length
        if len(items) > count:
            break
    if len(items) != count:
        raise InvalidInputError(f"{where}: the shape holds {count} BYTES elements but the data holds "
                                f"{'more' if len(items) > count else len(items)}")
    return items

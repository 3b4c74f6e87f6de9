"""Dataset file formats: one explicit registry, each format a path test plus a reader.

Built in: ``csv`` and ``jsonl`` (text), ``image_folder`` (``root/<class>/<image files>``) and ``idx``
(MNIST's binary format). A new format is one :func:`register_format` call; a name registered twice
is refused, and a path two formats claim is an error rather than a silent choice.
"""

from __future__ import annotations

import csv
import gzip
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from zhijian_core.data.dataset import Dataset
from zhijian_core.errors import DatasetError


@dataclass(frozen=True)
class ReadOptions:
    """Options a reader may use (text readers use both; the image readers ignore them).

    Attributes:
        text_column: Column or key holding the text.
        label_column: Column or key holding the label.
    """

    text_column: str = "text"
    label_column: str = "label"


@dataclass(frozen=True)
class DatasetFormat:
    """A registered dataset format.

    Attributes:
        name: Registry key.
        description: The path form it accepts, shown in error messages.
        matches: Whether a path is of this format (cheap: name and kind only).
        read: Reads the path into a dataset named after it.
    """

    name: str
    description: str
    matches: Callable[[Path], bool]
    read: Callable[[Path, ReadOptions], Dataset]


_FORMATS: dict[str, DatasetFormat] = {}


def register_format(fmt: DatasetFormat) -> DatasetFormat:
    """Add a format to the registry.

    Args:
        fmt: The format.

    Returns:
        ``fmt`` itself.

    Raises:
        DatasetError: A format of that name is already registered.
    """
    if fmt.name in _FORMATS:
        raise DatasetError(f"dataset format {fmt.name!r} is already registered")
    _FORMATS[fmt.name] = fmt
    return fmt


def registered_formats() -> tuple[DatasetFormat, ...]:
    """Return the registered formats, in registration order."""
    return tuple(_FORMATS.values())


def detect_format(path: Path) -> DatasetFormat:
    """Return the one format that claims ``path``.

    Raises:
        DatasetError: No format, or more than one, claims it.
    """
    claimed = [fmt for fmt in _FORMATS.values() if fmt.matches(path)]
    if len(claimed) == 1:
        return claimed[0]
    forms = "; ".join(f"{fmt.name}: {fmt.description}" for fmt in _FORMATS.values())
    if not claimed:
        raise DatasetError(f"{path} is of no known dataset format; accepted: {forms}")
    raise DatasetError(f"{path} is claimed by several formats {[f.name for f in claimed]}")


def encode_labels(values: list[str | int], where: str) -> tuple[np.ndarray, tuple[str, ...]]:
    """Map raw labels to class indices: integers (or integer strings) numerically, else strings sorted.

    Args:
        values: One raw label per example.
        where: The source, for error messages.

    Returns:
        ``int64`` class indices and the class names (``str`` of each sorted unique value).

    Raises:
        DatasetError: A label is neither a string nor an integer, or strings and integers are mixed.
    """
    bad = [v for v in values if isinstance(v, bool) or not isinstance(v, (str, int))]
    if bad:
        raise DatasetError(f"{where}: label {bad[0]!r} is neither a string nor an integer")
    if any(isinstance(v, str) and not v.strip() for v in values):
        raise DatasetError(f"{where}: a label is empty; give every example a label")
    if all(isinstance(v, int) or re.fullmatch(r"[+-]?\d+", v.strip()) for v in values):
        keys: list[str | int] = [int(v) for v in values]
    elif any(isinstance(v, int) for v in values):
        raise DatasetError(f"{where}: labels mix integers and strings; use one kind")
    else:
        keys = [str(v).strip() for v in values]
    unique = sorted(set(keys))  # type: ignore[type-var]
    index = {key: i for i, key in enumerate(unique)}
    return np.array([index[k] for k in keys], dtype=np.int64), tuple(str(k) for k in unique)


def _text_dataset(path: Path, texts: list[str], labels: list[str | int]) -> Dataset:
    if not texts:
        raise DatasetError(f"{path} holds no example with a non-empty text")
    codes, names = encode_labels(labels, str(path))
    return Dataset(str(path), "text", texts, codes, names)


def _missing_column(path: Path, found: list[str], options: ReadOptions) -> None:
    for option, column in (("text_column", options.text_column), ("label_column", options.label_column)):
        if column not in found:
            raise DatasetError(
                f"{path} has no column {column!r}; columns found: {found}; set {option} to one of them")


def read_csv(path: Path, options: ReadOptions) -> Dataset:
    """Read a UTF-8 CSV file with a header row; rows with empty text are dropped."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            if reader.fieldnames is None:
                raise DatasetError(f"{path} is empty; expected a header row then one row per example")
            _missing_column(path, list(reader.fieldnames), options)
            texts, labels = [], []
            for row in reader:
                text, label = row[options.text_column] or "", row[options.label_column] or ""
                if not text.strip():
                    continue
                if not label.strip():
                    raise DatasetError(f"{path} line {reader.line_num}: empty label for {text[:40]!r}")
                texts.append(text)
                labels.append(label)
    except UnicodeDecodeError as exc:
        raise DatasetError(f"{path} is not UTF-8 text; convert it to UTF-8") from exc
    except csv.Error as exc:
        raise DatasetError(f"{path} is not valid CSV: {exc}") from exc
    return _text_dataset(path, texts, labels)


def read_jsonl(path: Path, options: ReadOptions) -> Dataset:
    """Read JSON Lines: one object per non-blank line; examples with empty or null text are dropped."""
    texts, labels = [], []
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except UnicodeDecodeError as exc:
        raise DatasetError(f"{path} is not UTF-8 text; convert it to UTF-8") from exc
    if not any(line.strip() for line in lines):
        raise DatasetError(f"{path} is empty; expected one JSON object per line")
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DatasetError(f"{path} line {number} is not valid JSON: {exc}") from exc
        if not isinstance(row, dict):
            raise DatasetError(f"{path} line {number} is a {type(row).__name__}, not an object")
        _missing_column(path, list(row), options)
        text = row[options.text_column]
        if text is not None and not isinstance(text, str):
            raise DatasetError(f"{path} line {number}: text is a {type(text).__name__}, not a string")
        if text and text.strip():
            texts.append(text)
            labels.append(row[options.label_column])
    return _text_dataset(path, texts, labels)


IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"})
"""File suffixes (lower case) read as images in an image folder."""


def read_image_folder(path: Path, options: ReadOptions) -> Dataset:
    """Read ``root/<class>/<image files>``: classes sorted by name, inputs as file paths (not decoded)."""
    classes = sorted(p.name for p in path.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise DatasetError(f"{path} has no class subfolders; expected {path}/<class>/<image files>")
    inputs: list[Path] = []
    labels: list[int] = []
    empty = []
    for label, name in enumerate(classes):
        files = sorted(p for p in (path / name).iterdir()
                       if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith("."))
        if not files:
            empty.append(name)
        inputs.extend(files)
        labels.extend([label] * len(files))
    if empty:
        raise DatasetError(
            f"{path}: class folders {empty} hold no image file ({', '.join(sorted(IMAGE_SUFFIXES))})")
    return Dataset(str(path), "image", inputs, np.array(labels, dtype=np.int64), tuple(classes))


_IDX_IMAGES = re.compile(r"(?P<prefix>.+)-images(?P<sep>[-.])idx3-ubyte(?P<gz>\.gz)?")


def _read_idx(path: Path, magic: int, header: int) -> tuple[np.ndarray, bytes]:
    """Return the header's big-endian dimension sizes and the payload of an idx file."""
    try:
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError) as exc:
        raise DatasetError(f"cannot read idx file {path}: {exc}") from exc
    if len(raw) < header:
        raise DatasetError(f"{path} has {len(raw)} bytes, fewer than its {header}-byte idx header")
    found = int.from_bytes(raw[:4], "big")
    if found != magic:
        raise DatasetError(f"{path} has magic number {found:#010x}, expected {magic:#010x} (idx uint8)")
    dims = np.frombuffer(raw[4:header], dtype=">u4").astype(np.int64)
    payload = raw[header:]
    if len(payload) != int(np.prod(dims)):
        raise DatasetError(f"{path}: header says {'x'.join(map(str, dims))} values, found {len(payload)}")
    return dims, payload


def read_idx_pair(images_path: Path, labels_path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Read an idx3 uint8 images file and its idx1 labels file.

    Returns:
        Images ``(N, rows, cols)`` uint8 and labels ``(N,)`` int64 (the raw label values).

    Raises:
        DatasetError: A file is missing or unreadable, has a wrong magic number or size, or the
            two counts differ.
    """
    dims, pixels = _read_idx(images_path, 0x00000803, 16)
    (count,), labels = _read_idx(labels_path, 0x00000801, 8)
    if count != dims[0]:
        raise DatasetError(f"{images_path} holds {dims[0]} images but {labels_path} {count} labels")
    images = np.frombuffer(pixels, dtype=np.uint8).reshape(tuple(dims)).copy()
    return images, np.frombuffer(labels, dtype=np.uint8).astype(np.int64)


def idx_labels_path(images_path: Path) -> Path:
    """Return the labels file beside an idx images file (``.gz`` or not, whichever exists)."""
    match = _IDX_IMAGES.fullmatch(images_path.name)
    if match is None:
        raise DatasetError(f"{images_path.name} is not named <prefix>-images-idx3-ubyte[.gz]")
    stem = f"{match['prefix']}-labels{match['sep']}idx1-ubyte"
    candidates = [images_path.with_name(stem + ext) for ext in ((match["gz"] or ""), ".gz", "")]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise DatasetError(f"no labels file beside {images_path}; expected {candidates[0]}")


def read_idx(path: Path, options: ReadOptions) -> Dataset:
    """Read an idx images file and the labels file beside it; class names are the label values."""
    images, raw_labels = read_idx_pair(path, idx_labels_path(path))
    labels, names = encode_labels([int(v) for v in raw_labels], str(path))
    return Dataset(str(path), "image", images, labels, names)


register_format(DatasetFormat("csv", "a .csv file with a header row", lambda p: p.suffix.lower() == ".csv",
                              read_csv))
register_format(DatasetFormat("jsonl", "a .jsonl file, one JSON object per line",
                              lambda p: p.suffix.lower() == ".jsonl", read_jsonl))
register_format(DatasetFormat("image_folder", "a folder root/<class>/<image files>", Path.is_dir,
                              read_image_folder))
register_format(DatasetFormat("idx", "an idx file <prefix>-images-idx3-ubyte[.gz] beside its labels",
                              lambda p: p.is_file() and _IDX_IMAGES.fullmatch(p.name) is not None,
                              read_idx))

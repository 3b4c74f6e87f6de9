"""Dataset formats: CSV, JSONL, image folders and idx files written here, and the registry."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from zhijian_core.data import DataConfig, DatasetFormat, detect_format, load_dataset, register_format
from zhijian_core.errors import ConfigError, DatasetError


def _load(path: Path, text_column: str = "text", label_column: str = "label"):
    return load_dataset(DataConfig(dataset=str(path), text_column=text_column, label_column=label_column))


def test_csv_with_string_labels(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text('text,label\n"hi, there",pos\n   ,neg\nbad day,neg\nok,neutral\n', encoding="utf-8")
    data = _load(path)
    assert data.name == str(path) and data.modality == "text"
    assert list(data.inputs) == ["hi, there", "bad day", "ok"]  # the blank-text row is dropped
    assert data.label_names == ("neg", "neutral", "pos")
    np.testing.assert_array_equal(data.labels, [2, 0, 1])


def test_csv_custom_columns_and_integer_labels(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text("id,sentence,y\n1,a,10\n2,b,2\n3,c,-1\n", encoding="utf-8")
    data = _load(path, text_column="sentence", label_column="y")
    assert data.label_names == ("-1", "2", "10")  # sorted as numbers, not as strings
    np.testing.assert_array_equal(data.labels, [2, 1, 0])


def test_csv_missing_column_names_what_was_found(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text("sentence,label\na,x\n", encoding="utf-8")
    with pytest.raises(DatasetError, match=r"no column 'text'.*\['sentence', 'label'\].*text_column"):
        _load(path)


@pytest.mark.parametrize(("content", "message"), [
    ("", "empty"), ("text,label\n", "no example"), ("text,label\n  ,a\n", "no example"),
    ("text,label\nhello,\n", "empty label"),
])
def test_csv_without_usable_rows(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "d.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DatasetError, match=message):
        _load(path)


def test_csv_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_bytes("text,label\ncaf\xe9,a\n".encode("latin-1"))
    with pytest.raises(DatasetError, match="UTF-8"):
        _load(path)


def test_jsonl_with_integer_labels(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    rows = [{"text": "a", "label": 2}, {"text": None, "label": 5}, {"text": "b", "label": 0},
            {"text": "c", "label": 10}, {"text": "", "label": 0}]
    path.write_text("\n".join(json.dumps(row) for row in rows) + "\n\n", encoding="utf-8")
    data = _load(path)
    assert list(data.inputs) == ["a", "b", "c"]
    assert data.label_names == ("0", "2", "10")
    np.testing.assert_array_equal(data.labels, [1, 0, 2])


@pytest.mark.parametrize(("lines", "message"), [
    (['{"text": "a", "label": 1}', '{"text": "b", "label": "x"}'], "mix"),
    (['{"text": "a", "label": 1.5}'], "neither a string nor an integer"),
    (['{"text": "a", "label": 1}', "{oops"], "line 2 is not valid JSON"),
    (['{"body": "a", "label": 1}'], r"no column 'text'.*\['body', 'label'\]"),
    (['{"text": 3, "label": 1}'], "not a string"),
    (["[1, 2]"], "not an object"),
    (["", "  "], "empty"),
])
def test_jsonl_errors(tmp_path: Path, lines: list[str], message: str) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text("\n".join(lines), encoding="utf-8")
    with pytest.raises(DatasetError, match=message):
        _load(path)


def _write_idx(folder: Path, prefix: str, images: np.ndarray, labels: np.ndarray, gz: bool,
               image_magic: int = 0x803) -> Path:
    opener = gzip.open if gz else open
    ext = ".gz" if gz else ""
    header = image_magic.to_bytes(4, "big") + b"".join(int(d).to_bytes(4, "big") for d in images.shape)
    with opener(folder / f"{prefix}-images-idx3-ubyte{ext}", "wb") as handle:
        handle.write(header + images.astype(np.uint8).tobytes())
    with opener(folder / f"{prefix}-labels-idx1-ubyte{ext}", "wb") as handle:
        handle.write((0x801).to_bytes(4, "big") + len(labels).to_bytes(4, "big") + bytes(labels.tolist()))
    return folder / f"{prefix}-images-idx3-ubyte{ext}"


@pytest.mark.parametrize("gz", [True, False])
def test_idx_pair(tmp_path: Path, gz: bool) -> None:
    images = np.arange(3 * 2 * 4).reshape(3, 2, 4)
    path = _write_idx(tmp_path, "train", images, np.array([7, 3, 7]), gz)
    data = _load(path)
    assert data.modality == "image" and data.inputs.dtype == np.uint8
    np.testing.assert_array_equal(data.inputs, images)
    assert data.label_names == ("3", "7")
    np.testing.assert_array_equal(data.labels, [1, 0, 1])


def test_idx_bad_magic_size_and_count(tmp_path: Path) -> None:
    images = np.zeros((2, 2, 2))
    with pytest.raises(DatasetError, match="magic number 0x00000802"):
        _load(_write_idx(tmp_path, "a", images, np.array([0, 1]), True, image_magic=0x802))
    with pytest.raises(DatasetError, match="2 images but .* 3 labels"):
        _load(_write_idx(tmp_path, "b", images, np.array([0, 1, 1]), False))
    path = _write_idx(tmp_path, "c", images, np.array([0, 1]), False)
    path.write_bytes(path.read_bytes()[:-1])
    with pytest.raises(DatasetError, match="header says 2x2x2 values, found 7"):
        _load(path)
    (tmp_path / "d-images-idx3-ubyte").write_bytes(b"\0\0\x08")
    with pytest.raises(DatasetError, match="no labels file"):
        _load(tmp_path / "d-images-idx3-ubyte")


def _png(path: Path, value: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((2, 3, 3), value, np.uint8)).save(path)


def test_image_folder(tmp_path: Path) -> None:
    _png(tmp_path / "dog" / "b.png", 1)
    _png(tmp_path / "dog" / "a.PNG", 2)
    _png(tmp_path / "cat" / "z.png", 3)
    (tmp_path / "cat" / "notes.txt").write_text("not an image")
    data = _load(tmp_path)
    assert data.label_names == ("cat", "dog") and data.modality == "image"
    assert [p.name for p in data.inputs] == ["z.png", "a.PNG", "b.png"]
    np.testing.assert_array_equal(data.labels, [0, 1, 1])


def test_image_folder_errors(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="no class subfolders"):
        _load(tmp_path)
    _png(tmp_path / "dog" / "a.png", 1)
    (tmp_path / "cat").mkdir()
    with pytest.raises(DatasetError, match=r"\['cat'\] hold no image"):
        _load(tmp_path)
    with pytest.raises(ConfigError, match="only to CSV and JSONL"):
        _load(tmp_path, text_column="body")


def test_unknown_paths_and_formats(tmp_path: Path) -> None:
    (tmp_path / "d.txt").write_text("x")
    with pytest.raises(DatasetError, match="no known dataset format.*csv.*jsonl.*image_folder.*idx"):
        detect_format(tmp_path / "d.txt")
    with pytest.raises(DatasetError, match="neither a named dataset"):
        _load(tmp_path / "missing.csv")


def test_registering_a_format_twice_is_refused() -> None:
    with pytest.raises(DatasetError, match="already registered"):
        register_format(DatasetFormat("csv", "again", lambda path: False, lambda path, options: None))

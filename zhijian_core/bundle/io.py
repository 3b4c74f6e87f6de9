"""Reading, verifying and atomically writing bundle directories (torch-free).

A bundle is written into a temporary sibling directory and renamed into place, so a half-written
bundle never exists under its final name. It is loaded only after every file's SHA-256 matches the
manifest.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any, Callable, get_args

from pydantic import BaseModel, ValidationError

from zhijian_core.bundle.manifest import SCHEMA_VERSION, Manifest
from zhijian_core.errors import BundleError, BundleIntegrityError, SchemaVersionError

MANIFEST = "manifest.json"
MODEL = "model.onnx"
_CHUNK = 1 << 20


def sha256_file(path: Path) -> str:
    """SHA-256 hex digest of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_file(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` and fsync it: the one place a bundle's bytes reach the disk.

    Args:
        path: File to create or overwrite.
        data: Its whole content.

    Raises:
        OSError: The write failed (``ENOSPC`` included); the caller cleans up.
    """
    with open(path, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def file_digests(folder: Path) -> dict[str, str]:
    """SHA-256 of every file below ``folder`` except the manifest, by POSIX relative path."""
    return {p.relative_to(folder).as_posix(): sha256_file(p)
            for p in sorted(folder.rglob("*")) if p.is_file() and p.name != MANIFEST}


def _major(version: str) -> int:
    try:
        return int(version.split(".")[0])
    except ValueError as exc:
        raise BundleError(f"manifest schema_version '{version}' is not MAJOR.MINOR") from exc


def read_manifest(folder: Path) -> Manifest:
    """Parse ``manifest.json``; refuse a newer major schema, warn about unknown minor fields."""
    path = Path(folder) / MANIFEST
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise BundleError(f"{folder} is not a bundle: no {MANIFEST}") from exc
    except json.JSONDecodeError as exc:
        raise BundleError(f"{path} is not valid JSON: {exc}") from exc
    version = str(raw.get("schema_version", ""))
    if _major(version) > _major(SCHEMA_VERSION):
        raise SchemaVersionError(f"{path} has schema_version {version}, newer than the {SCHEMA_VERSION} "
                                 "this version of ZhiJian reads; upgrade ZhiJian to load it")
    try:
        manifest = Manifest.model_validate(raw)
    except ValidationError as exc:
        raise BundleError(f"{path} is not a valid manifest: {exc}") from exc
    unknown = _unknown_fields(raw, Manifest, "")
    if unknown:
        warnings.warn(f"{path}: ignoring fields unknown to schema {SCHEMA_VERSION}: {unknown}",
                      UserWarning, stacklevel=2)
    return manifest


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The pydantic models an annotation can hold (``X``, ``X | None``, ``list[X]``)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in get_args(annotation) for m in _models_in(arg)]


def _unknown_fields(raw: Any, model: type[BaseModel], prefix: str) -> list[str]:
    """Dotted paths of keys in ``raw`` (at any depth) that ``model`` does not declare."""
    if not isinstance(raw, dict):
        return []
    found = [f"{prefix}{key}" for key in raw if key not in model.model_fields]
    for name, field in model.model_fields.items():
        value = raw.get(name)
        models = _models_in(field.annotation)
        if len(models) != 1 or models[0].model_config.get("extra") == "forbid":
            continue  # unions of models (the preprocessing spec) refuse unknown keys themselves
        items = value if isinstance(value, list) else [value]
        for index, item in enumerate(items):
            where = f"{prefix}{name}[{index}]." if isinstance(value, list) else f"{prefix}{name}."
            found += _unknown_fields(item, models[0], where)
    return sorted(found)


def verify_bundle(folder: Path) -> Manifest:
    """Read the manifest and check every file's digest; raise naming the first file that differs."""
    folder = Path(folder)
    manifest = read_manifest(folder)
    actual = file_digests(folder)
    for name, expected in manifest.files.items():
        if name not in actual:
            raise BundleIntegrityError(f"bundle {folder}: file '{name}' listed in the manifest is missing")
        if actual[name] != expected:
            raise BundleIntegrityError(f"bundle {folder}: file '{name}' does not match its SHA-256 in "
                                       "the manifest (modified or corrupted); re-export the bundle")
    extra = sorted(set(actual) - set(manifest.files))
    if extra:
        raise BundleIntegrityError(f"bundle {folder}: files not in the manifest: {extra}")
    if MODEL not in manifest.files:
        raise BundleIntegrityError(f"bundle {folder}: the manifest lists no {MODEL}")
    tokenizer = getattr(manifest.io.preprocess, "tokenizer_file", None)
    if tokenizer is not None and tokenizer not in manifest.files:
        # Else a manifest could send the preprocessing to a file outside the bundle, unverified.
        raise BundleIntegrityError(f"bundle {folder}: the preprocessing reads '{tokenizer}', which is "
                                   "not a file the manifest lists (and verifies)")
    return manifest


def write_bundle(target: Path, fill: Callable[[Path], Manifest]) -> Manifest:
    """Write a bundle atomically: ``fill(tmp)`` writes the files and returns the manifest without
    digests; the digests are added, the manifest written, and ``tmp`` renamed to ``target``.

    ``target`` must not exist. On any error (``ENOSPC`` included) the temporary directory is removed
    and nothing exists under ``target``.
    """
    target = Path(target)
    if target.exists():
        raise BundleError(f"{target} already exists; choose another output folder")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        manifest = fill(tmp)
        manifest = manifest.model_copy(update={"files": file_digests(tmp)})
        write_file(tmp / MANIFEST, manifest.model_dump_json(indent=2).encode())
        os.rename(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return manifest

"""Validate rendered Kubernetes objects against the real CRD schemas (``../shared/crds/``).

A CRD's ``openAPIV3Schema`` is a JSON Schema dialect; a plain validator accepts keys a schema does
not list, but the API server prunes them silently, so a misspelt key would pass unnoticed. This
validator closes every object schema that lists ``properties`` and neither says
``x-kubernetes-preserve-unknown-fields: true`` nor gives ``additionalProperties``, and reads
OpenAPI's ``nullable: true`` as "null is allowed". Other ``x-kubernetes-*`` extensions are ignored.
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CRDS = ROOT.parent / "shared" / "crds"


def crd_folder() -> Path:
    """``../shared/crds`` beside the checkout: CI must have it, elsewhere its absence skips."""
    if not CRDS.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"{CRDS} is missing: CI runs with ../shared beside the clone")
        pytest.skip(f"{CRDS} is missing (../shared beside the checkout)")
    return CRDS


def strict(schema: Any) -> Any:
    """A copy of ``schema`` that refuses unknown fields and honours ``nullable``."""
    if isinstance(schema, list):
        return [strict(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    closed = {key: strict(value) for key, value in schema.items()
              if key not in ("properties", "description")}
    if "properties" in schema:
        closed["properties"] = {k: strict(v) for k, v in schema["properties"].items()}
        if not schema.get("x-kubernetes-preserve-unknown-fields") \
                and "additionalProperties" not in schema:
            closed["additionalProperties"] = False
    if schema.get("nullable") and isinstance(schema.get("type"), str):
        closed["type"] = [schema["type"], "null"]
    return closed


@dataclass(frozen=True)
class CrdSchemas:
    """The strict schema of each (apiVersion, kind) the CRD files define."""

    schemas: dict[tuple[str, str], dict[str, Any]]

    @classmethod
    def load(cls, folder: Path) -> "CrdSchemas":
        schemas = {}
        for path in sorted(folder.glob("*.yaml")):
            crd = yaml.safe_load(path.read_text())
            group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
            for version in crd["spec"]["versions"]:
                schema = copy.deepcopy(version["schema"]["openAPIV3Schema"])
                schemas[(f"{group}/{version['name']}", kind)] = strict(schema)
        return cls(schemas)

    def errors(self, document: dict[str, Any]) -> list[str]:
        """Every schema violation of ``document`` as ``path: message``; raises ``KeyError`` for a
        kind no CRD defines."""
        from jsonschema import Draft7Validator

        schema = self.schemas[(document["apiVersion"], document["kind"])]
        validator = Draft7Validator(schema)
        return sorted(f"{'.'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
                      for e in validator.iter_errors(document))

    def kinds(self) -> set[str]:
        return {kind for _, kind in self.schemas}

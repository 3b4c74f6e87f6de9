"""Nothing in the project loads a pickle: weights are safetensors, configs JSON."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCES = [p for folder in ("zhijian_core", "services", "benchmarks", "scripts")
           for p in (ROOT / folder).rglob("*.py")]
FORBIDDEN = [
    (re.compile(r"^\s*import pickle|^\s*from pickle |pickle\.loads?\(|cPickle|dill\.", re.M), "pickle"),
    (re.compile(r"joblib\.load\("), "joblib.load"),
    (re.compile(r"np\.load\([^)]*allow_pickle\s*=\s*True"), "numpy allow_pickle"),
]
TORCH_LOAD = re.compile(r"torch\.load\(([^()]|\([^()]*\))*\)", re.S)


def test_sources_were_found() -> None:
    assert len(SOURCES) > 40


def test_no_pickle_loading_anywhere() -> None:
    problems = []
    for path in SOURCES:
        text = path.read_text()
        for pattern, what in FORBIDDEN:
            if pattern.search(text):
                problems.append(f"{path.relative_to(ROOT)}: {what}")
        for call in TORCH_LOAD.finditer(text):
            if "weights_only=True" not in call.group(0):
                problems.append(f"{path.relative_to(ROOT)}: {call.group(0)!r} without weights_only=True")
    assert not problems, problems

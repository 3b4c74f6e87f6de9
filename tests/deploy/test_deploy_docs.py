"""docs/deploy.md names only files that exist, and the numbered steps cover the path the issue asks
for (from an empty GPU cluster to a served model)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "deploy.md").read_text()


def test_every_repository_path_in_the_doc_exists() -> None:
    paths = set(re.findall(r"`((?:deploy|helm|requirements|docs|tests)/[\w./*-]+)`", DOC))
    assert paths
    for path in sorted(paths):
        if "*" in path or path.endswith("/"):
            # a folder of rules or dashboards that the metrics work fills: its home must exist
            assert (ROOT / path.split("*")[0].rstrip("/")).parent.is_dir(), path
        else:
            assert (ROOT / path).exists(), f"docs/deploy.md names missing {path}"


def test_the_numbered_steps_go_from_an_empty_cluster_to_a_served_model() -> None:
    steps = re.findall(r"^(\d+)\. \*\*(.+?)\*\*", DOC, flags=re.M)
    assert [int(n) for n, _ in steps] == list(range(1, len(steps) + 1))
    titles = " / ".join(t.lower() for _, t in steps)
    for words in ("kuberay", "prometheus", "secrets", "install the chart", "promote",
                  "dashboards"):
        assert words in titles, words

"""The docs' applicability table is the catalogue's own rendering."""

from __future__ import annotations

from pathlib import Path

from zhijian_core.methods.catalog import method_rows, render_markdown

DOC = Path(__file__).resolve().parents[2] / "docs" / "methods.md"


def test_docs_table_matches_the_registry() -> None:
    text = DOC.read_text()
    table = text.split("<!-- methods-table:start -->")[1].split("<!-- methods-table:end -->")[0]
    assert table.strip() == render_markdown(method_rows()).strip(), (
        "docs/methods.md is stale: paste `zhijian methods --format markdown` between the markers")

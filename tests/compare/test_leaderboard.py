"""Leaderboard files, tables and picture."""

from __future__ import annotations

import json
import struct
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import pytest

from zhijian_core.compare.leaderboard import (
    HEADERS,
    build_leaderboard,
    read_leaderboard,
    render_markdown,
    render_text,
    write_leaderboard,
)
from zhijian_core.compare.plot import plot_leaderboard
from zhijian_core.compare.stats import aggregate
from zhijian_core.errors import ConfigError, RunStoreError
from zhijian_core.train.result import RunResult

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
METHODS = ["full_ft", "partial_top2", "linear_probe", "lora", "adapter", "distill_l3",
           "tfidf_logreg", "ncm", "knn"]
"""The sample comparison's methods by descending mean macro-F1."""


def _table_rows(markdown: str) -> list[list[str]]:
    rows = [line.strip("|").split("|") for line in markdown.splitlines() if line.startswith("| ")]
    return [[cell.strip() for cell in row] for row in rows[1:]]  # without the header


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_write_leaderboard_files(tmp_path: Path, comparison: list[RunResult]) -> None:
    board = write_leaderboard(comparison, tmp_path / "out", "Tweets")
    out = tmp_path / "out"
    assert {p.name for p in out.iterdir()} == {"leaderboard.json", "leaderboard.md", "leaderboard.png"}

    raw = json.loads((out / "leaderboard.json").read_text())
    assert raw["title"] == "Tweets"
    assert raw["seeds"] == [0, 1, 2] and raw["datasets"] == ["toy"] and raw["ptms"] == ["minilm-l6"]
    assert raw["data_fingerprints"] == {"0": ["fp0"], "1": ["fp0"], "2": ["fp0"]}
    assert len(raw["runs"]) == 27 and len(raw["entries"]) == 9
    assert datetime.fromisoformat(raw["created"]).tzinfo is not None
    assert read_leaderboard(out) == board

    rows = _table_rows((out / "leaderboard.md").read_text())
    assert [row[1] for row in rows] == METHODS
    assert [row[0] for row in rows] == [str(i) for i in range(1, 10)]
    f1 = [float(row[3].split("±")[0]) for row in rows]
    assert f1 == sorted(f1, reverse=True)
    assert all(len(row) == len(HEADERS) for row in rows)

    width, height = _png_size(out / "leaderboard.png")
    assert width > 800 and height > 400
    assert (out / "leaderboard.png").stat().st_size > 20_000


def test_pareto_marks_and_baseline_verdicts(comparison: list[RunResult]) -> None:
    board = build_leaderboard(comparison, "t")
    # Latency front: tfidf (0.38 ms) < distill (4.6) < linear_probe (8.9) < partial (9.4) < full (9.5).
    assert set(board.pareto_latency) == {"tfidf_logreg", "distill_l3", "linear_probe",
                                         "partial_top2", "full_ft"}
    rows = {row[1]: row for row in _table_rows(render_markdown(board))}
    assert rows["lora"][HEADERS.index("front")] == ""
    assert rows["full_ft"][HEADERS.index("front")] == "★"
    verdict = HEADERS.index("vs baseline")
    assert board.baseline == "tfidf_logreg"
    assert (rows["lora"][verdict], rows["ncm"][verdict], rows["tfidf_logreg"][verdict]) == (
        "yes", "no", "baseline")
    assert rows["linear_probe"][HEADERS.index("trainable params")] == "1.16k (0.0051%)"
    assert rows["lora"][HEADERS.index("epoch s")] == "29.0"
    assert rows["ncm"][HEADERS.index("epoch s")] == "-"


def test_peak_memory_is_a_column_of_means(run: Callable[..., RunResult]) -> None:
    runs = [run("lora", 0.7, seed=seed, peak_memory_mb=mb) for seed, mb in ((0, 120.0), (1, 180.0))]
    board = build_leaderboard(runs, "t")
    assert board.entries[0].peak_memory_mb.mean == 150.0
    rows = {row[1]: row for row in _table_rows(render_markdown(board))}
    assert rows["lora"][HEADERS.index("peak MB")] == "150"
    assert "peak MB" in render_text(board)


def test_render_text_is_plain_and_aligned(comparison: list[RunResult]) -> None:
    created = datetime(2025, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    text = render_text(build_leaderboard(comparison, "Tweets", created=created))
    lines = text.splitlines()
    assert lines[0] == "Tweets"
    assert "2025-01-02T03:04:05+00:00" in lines[2]
    header = next(i for i, line in enumerate(lines) if line.startswith("rank"))
    table = lines[header + 2: header + 11]
    assert [line.split()[1] for line in table] == METHODS
    assert "|" not in text


def test_without_baseline_says_so(run: Callable[..., RunResult]) -> None:
    board = build_leaderboard([run("lora", 0.7), run("ncm", 0.6, family="training_free")], "t")
    assert board.baseline is None and board.baseline_claims == []
    assert "No non-PTM baseline" in render_markdown(board)


def test_empty_comparison_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        write_leaderboard([], tmp_path, "t")
    with pytest.raises(ConfigError):
        plot_leaderboard([], tmp_path / "x.png", "t")


def test_read_missing_leaderboard(tmp_path: Path) -> None:
    with pytest.raises(RunStoreError, match="leaderboard.json"):
        read_leaderboard(tmp_path)


def test_plot_single_entry_and_all_training_free(tmp_path: Path, run: Callable[..., RunResult]) -> None:
    entries = aggregate([run("ncm", 0.6, family="training_free", trainable=0)])
    path = plot_leaderboard(entries, tmp_path / "one.png", "one")
    assert _png_size(path)[0] > 800


def test_each_method_is_judged_against_the_baseline_on_its_data(run: Callable[..., RunResult]) -> None:
    runs = [
        run("tfidf_logreg", 0.72, family="baseline", fingerprint="full"),
        run("tfidf_logreg", 0.40, family="baseline", fingerprint="16shot", label="tfidf_logreg@16shot"),
        run("ncm", 0.55, family="training_free", fingerprint="16shot", label="ncm@16shot"),
        run("lora", 0.70, fingerprint="full"),
        run("odd", 0.60, fingerprint="other"),
    ]
    board = build_leaderboard(runs, "t")
    against = {c.a: (c.b, c.holds) for c in board.baseline_claims}
    assert against == {"ncm@16shot": ("tfidf_logreg@16shot", True), "lora": ("tfidf_logreg", False),
                       "odd": ("tfidf_logreg", False)}
    assert board.baseline == "tfidf_logreg"

"""The leaderboard of a comparison: JSON for machines, Markdown and plain text for people, a PNG.

``write_leaderboard`` writes three files into one folder:

- ``leaderboard.json``: every raw run, the aggregated entries and the metadata (title, datasets,
  PTMs, seeds, data fingerprints, creation time); :func:`read_leaderboard` loads it back;
- ``leaderboard.md``: the table sorted by mean macro-F1, the claims against the non-PTM baseline
  and the picture;
- ``leaderboard.png``: see :func:`zhijian_core.compare.plot.plot_leaderboard`.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from zhijian_core.compare.pareto import pareto_front
from zhijian_core.compare.plot import plot_leaderboard
from zhijian_core.compare.stats import Claim, Entry, MeanStd, aggregate, beats, format_number
from zhijian_core.errors import RunStoreError
from zhijian_core.train.result import RunResult

JSON_NAME = "leaderboard.json"
"""File name of the machine-readable leaderboard."""
MARKDOWN_NAME = "leaderboard.md"
"""File name of the Markdown leaderboard."""
PNG_NAME = "leaderboard.png"
"""File name of the picture."""

HEADERS = ("rank", "method", "family", "macro-F1", "accuracy", "trainable params", "train s",
           "epoch s", "peak MB", "latency b1 ms", "throughput b32/s", "front", "vs baseline")
"""Column headers of the table, in order."""


class Leaderboard(BaseModel):
    """A comparison: its runs, their aggregation over seeds and what they were run on."""

    model_config = ConfigDict(extra="forbid")

    title: str
    """Title of the comparison."""
    created: datetime
    """When the leaderboard was built (UTC)."""
    datasets: list[str]
    """Datasets of the runs, sorted."""
    ptms: list[str]
    """PTMs the methods reused, sorted (``none``, the baselines', left out)."""
    seeds: list[int]
    """Seeds of the runs, sorted."""
    data_fingerprints: dict[str, list[str]]
    """Split fingerprints of the runs by seed (one per seed when all methods saw the same data)."""
    entries: list[Entry]
    """Aggregated entries, best mean macro-F1 first."""
    pareto_latency: list[str]
    """Names of the entries on the macro-F1 vs batch-1 latency Pareto front."""
    baseline: str | None
    """Name of the best non-PTM baseline entry, or ``None`` when the comparison has none."""
    baseline_claims: list[Claim]
    """For each non-baseline entry, whether it beats its baseline on macro-F1: the best baseline
    whose runs had the same data fingerprints (a few-shot method against the few-shot baseline),
    else the best baseline."""
    runs: list[RunResult]
    """Every run, as reported."""


def build_leaderboard(results: list[RunResult], title: str, created: datetime | None = None) -> Leaderboard:
    """Aggregate runs into a leaderboard without writing anything.

    Args:
        results: Runs of one comparison, any number of seeds per method.
        title: Title of the comparison.
        created: Creation time to record; now (UTC) when ``None``.

    Returns:
        The leaderboard, entries sorted by mean macro-F1 (descending, then by name).

    Raises:
        ConfigError: See :func:`zhijian_core.compare.stats.aggregate`.
    """
    entries = sorted(aggregate(results), key=lambda e: (-e.macro_f1.mean, e.name))
    front = pareto_front([(e.latency_ms_b1.mean, e.macro_f1.mean) for e in entries])
    baselines = [e for e in entries if e.family == "baseline"]
    baseline = baselines[0] if baselines else None
    data_of: dict[str, set[str]] = {}
    fingerprints: dict[str, set[str]] = {}
    for run in results:
        data_of.setdefault(run.display, set()).add(run.data_fingerprint)
        fingerprints.setdefault(str(run.seed), set()).add(run.data_fingerprint)
    claims = [beats(e, _reference(e, baselines, data_of)) for e in entries
              if baselines and e.family != "baseline"]
    return Leaderboard(
        title=title,
        created=created or datetime.now(timezone.utc),
        datasets=sorted({r.dataset for r in results}),
        ptms=sorted({r.ptm for r in results} - {"none"}),
        seeds=sorted({r.seed for r in results}),
        data_fingerprints={seed: sorted(fps) for seed, fps in sorted(fingerprints.items())},
        entries=entries,
        pareto_latency=[entries[i].name for i in front],
        baseline=baseline.name if baseline else None,
        baseline_claims=claims,
        runs=list(results),
    )


def _reference(entry: Entry, baselines: list[Entry], data_of: dict[str, set[str]]) -> Entry:
    """The baseline an entry is judged against: the best one run on the same data, else the best."""
    same_data = [b for b in baselines if data_of[b.name] == data_of[entry.name]]
    return (same_data or baselines)[0]


def write_leaderboard(results: list[RunResult], out_dir: Path, title: str) -> Leaderboard:
    """Build the leaderboard and write ``leaderboard.json``, ``leaderboard.md`` and ``leaderboard.png``.

    Args:
        results: Runs of one comparison.
        out_dir: Folder to write into (created if missing; existing files are replaced).
        title: Title of the comparison.

    Returns:
        The leaderboard written.

    Raises:
        ConfigError: See :func:`build_leaderboard`.
        RunStoreError: The folder cannot be written.
    """
    board = build_leaderboard(results, title)
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
        (out / JSON_NAME).write_text(board.model_dump_json(indent=2) + "\n", encoding="utf-8")
        (out / MARKDOWN_NAME).write_text(render_markdown(board, image=PNG_NAME), encoding="utf-8")
        plot_leaderboard(board.entries, out / PNG_NAME, title)
    except OSError as exc:
        raise RunStoreError(f"cannot write the leaderboard into {out}: {exc}") from exc
    return board


def read_leaderboard(out_dir: Path) -> Leaderboard:
    """Load a leaderboard written by :func:`write_leaderboard`.

    Args:
        out_dir: Folder holding ``leaderboard.json``.

    Returns:
        The leaderboard.

    Raises:
        RunStoreError: The file is missing or not a valid leaderboard.
    """
    path = Path(out_dir) / JSON_NAME
    try:
        return Leaderboard.model_validate_json(path.read_bytes())
    except (OSError, ValidationError) as exc:
        raise RunStoreError(f"cannot read a leaderboard from {path}: {exc}") from exc


def table_rows(board: Leaderboard) -> list[list[str]]:
    """The table's cells as strings, one row per entry in rank order (columns: :data:`HEADERS`).

    Args:
        board: The leaderboard.

    Returns:
        Rows of formatted cells, for a Markdown, plain-text or rich table.
    """
    front = set(board.pareto_latency)
    verdicts = {c.a: ("yes" if c.holds else "no") for c in board.baseline_claims}
    rows = []
    for rank, e in enumerate(board.entries, start=1):
        rows.append([
            str(rank),
            e.name,
            e.family,
            _mean_std(e.macro_f1),
            _mean_std(e.accuracy),
            f"{_count(e.trainable_params)} ({_percent(e.trainable_fraction)})",
            format_number(e.train_seconds.mean),
            format_number(e.epoch_seconds.mean) if e.epoch_seconds else "-",
            format_number(e.peak_memory_mb.mean),
            format_number(e.latency_ms_b1.mean),
            format_number(e.throughput_b32.mean),
            "★" if e.name in front else "",
            "baseline" if e.family == "baseline" else verdicts.get(e.name, "-"),
        ])
    return rows


def render_markdown(board: Leaderboard, image: str | None = None) -> str:
    """The leaderboard as a Markdown document: metadata, table, notes, claims and picture.

    Args:
        board: The leaderboard.
        image: Relative path of the PNG to embed, or ``None`` for no picture.

    Returns:
        Markdown text ending in a newline.
    """
    lines = [f"# {board.title}", ""] + [f"- {line}" for line in _metadata(board)] + [""]
    lines.append("| " + " | ".join(HEADERS) + " |")
    lines.append("|" + "|".join("---:" if h not in ("method", "family") else "---" for h in HEADERS) + "|")
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in table_rows(board)]
    lines += ["", *_notes(board), ""]
    if board.baseline_claims:
        lines += ["## Against the non-PTM baseline", ""]
        lines += [f"- {claim.text}" for claim in board.baseline_claims] + [""]
    if image:
        lines += [f"![quality against cost]({image})", ""]
    return "\n".join(lines)


def render_text(board: Leaderboard) -> str:
    """The leaderboard as a plain-text table for a terminal (aligned columns, no markup).

    Args:
        board: The leaderboard.

    Returns:
        Text ending in a newline.
    """
    rows = [list(HEADERS)] + table_rows(board)
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADERS))]
    left = {HEADERS.index("method"), HEADERS.index("family")}

    def line(row: list[str]) -> str:
        return "  ".join(c.ljust(w) if i in left else c.rjust(w)
                         for i, (c, w) in enumerate(zip(row, widths))).rstrip()

    out = [board.title, *_metadata(board), "", line(rows[0]), "  ".join("-" * w for w in widths)]
    out += [line(row) for row in rows[1:]]
    out += ["", *_notes(board)]
    return "\n".join(out) + "\n"


def _metadata(board: Leaderboard) -> list[str]:
    return [
        f"dataset: {', '.join(board.datasets)}; PTM: {', '.join(board.ptms) or 'none'}",
        f"seeds: {', '.join(map(str, board.seeds))}; created {board.created.isoformat(timespec='seconds')}",
    ]


def _notes(board: Leaderboard) -> list[str]:
    notes = [
        "train s: wall seconds of fitting (frozen features' extraction included); epoch s: median "
        "seconds of one training epoch; peak MB: peak extra memory while fitting. "
        "★ on the Pareto front of macro-F1 against batch-1 latency. "
        "'vs baseline': yes when mean(method) − mean(baseline) > max(std) on macro-F1, against the "
        "best baseline run on the same data (else the best baseline).",
    ]
    if board.baseline is None:
        notes.append("No non-PTM baseline in this comparison: no claim of reuse can be made.")
    return notes


def _mean_std(value: MeanStd) -> str:
    return f"{format_number(value.mean)} ± {format_number(value.std)}"


def _percent(fraction: float) -> str:
    pct = 100.0 * fraction
    return f"{pct:.3g}%" if pct >= 1 or pct == 0 else f"{pct:.2g}%"


def _count(n: int) -> str:
    for unit, size in (("G", 10**9), ("M", 10**6), ("k", 10**3)):
        if n >= size:
            return f"{n / size:.3g}{unit}"
    return str(n)

"""benchmarks/request_path.py: reading Server-Timing, the stages derived from it, the aggregation."""

from __future__ import annotations

import pytest

from benchmarks.request_path import aggregate, parse_server_timing, stages_of
from services.gateway.middleware import server_timing


def test_parse_reads_what_the_gateway_writes() -> None:
    written = server_timing([("gateway", 9.5), ("host", 8.25), ("infer", 5.0)])
    assert parse_server_timing(written) == {"gateway": 9.5, "host": 8.25, "infer": 5.0}


def test_parse_takes_other_parameters_and_spacing() -> None:
    assert parse_server_timing('db;desc="query";dur=2.5,cache;dur=0.1 ,miss') == {
        "db": 2.5, "cache": 0.1}


def test_our_stages_add_up_to_the_total() -> None:
    timing = {"gateway": 9.0, "host": 8.0, "queue": 0.1, "input": 0.5, "infer": 5.0, "output": 0.2}
    stages = stages_of("zhijian", 11.0, timing)
    assert stages["ingress"] == pytest.approx(2.0) and stages["gateway"] == pytest.approx(1.0)
    assert stages["hop"] == pytest.approx(8.0 - 5.8)
    parts = sum(stages[k] for k in ("ingress", "gateway", "hop", "queue", "input", "infer", "output"))
    assert parts == pytest.approx(stages["total"])


def test_the_bare_apps_stages_add_up_to_the_total() -> None:
    stages = stages_of("bare-ray-serve", 7.0, {"app": 5.5, "input": 0.3, "infer": 4.8})
    assert stages["ingress"] == pytest.approx(1.5) and stages["app"] == pytest.approx(0.4)
    assert sum(stages[k] for k in ("ingress", "app", "input", "infer")) == pytest.approx(7.0)


def test_aggregate_takes_the_median_over_runs() -> None:
    runs = [{"a": {"total": value}} for value in (3.0, 1.0, 2.0)]
    assert aggregate(runs) == {"a": {"total": {"median": 2.0, "min": 1.0, "max": 3.0}}}

"""Canary routing: 2,000 fixed keys land exactly where the formula puts them, stably."""

from __future__ import annotations

import hashlib
import subprocess
import sys

import pytest

from services.routing import bucket, goes_to_canary, routing_key

KEYS = [f"user-{i:04d}" for i in range(2000)]


def formula(key: str, percent: int) -> bool:
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") % 10000 < percent * 100


@pytest.mark.parametrize("percent", [0, 1, 5, 10, 25, 50, 99, 100])
def test_2000_keys_follow_the_formula(percent: int) -> None:
    assert [goes_to_canary(k, percent) for k in KEYS] == [formula(k, percent) for k in KEYS]


def test_share_is_close_to_the_percent_and_raising_it_keeps_keys_in() -> None:
    for low, high in [(5, 10), (10, 50), (50, 100)]:
        canary_low = {k for k in KEYS if goes_to_canary(k, low)}
        canary_high = {k for k in KEYS if goes_to_canary(k, high)}
        assert canary_low <= canary_high
    share = sum(goes_to_canary(k, 10) for k in KEYS) / len(KEYS)
    assert 0.08 < share < 0.12
    assert not any(goes_to_canary(k, None) for k in KEYS)


def test_buckets_are_the_same_in_another_process() -> None:
    code = ("from services.routing import bucket\n"
            "print(','.join(str(bucket(f'user-{i:04d}')) for i in range(2000)))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          env={"PYTHONHASHSEED": "123", "PATH": ""}, cwd=".")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ",".join(str(bucket(k)) for k in KEYS)


def test_routing_key_precedence() -> None:
    assert routing_key("header", "oip-id") == "header"
    assert routing_key(None, "oip-id") == "oip-id"
    assert routing_key("", None) != routing_key("", None)

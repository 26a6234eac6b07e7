"""Check 2, the size budget: measured and allowed figures; bounded inflation of gzip bombs."""

from __future__ import annotations

import gzip
import os

from client.host.settings import SizeBudget
from verifier.checks.size import check_size

BUDGET = SizeBudget()


def test_within_budget() -> None:
    result = check_size(b"\x00asm" + b"\x00" * 1000, BUDGET)
    assert result.passed
    assert result.details["size"] == 1004 and result.details["size_allowed"] == 300 * 1024


def test_over_raw_budget() -> None:
    result = check_size(os.urandom(301 * 1024), BUDGET)
    assert not result.passed
    assert "308,224 bytes, over the budget of 307,200" in result.reason


def test_over_gzip_budget() -> None:
    result = check_size(os.urandom(200 * 1024), BUDGET)
    assert not result.passed and "gzipped, over the budget of 122,880" in result.reason
    assert result.details["gzipped"] > 120 * 1024  # type: ignore[operator]


def test_compression_bomb_is_inflated_only_up_to_the_budget() -> None:
    bomb = gzip.compress(b"\0" * (64 * 1024 * 1024), compresslevel=9)  # 64 MiB of zeros
    assert len(bomb) < 128 * 1024
    result = check_size(bomb, BUDGET)
    assert not result.passed
    assert "gzip stream" in result.reason and "upload the raw .wasm" in result.reason
    assert result.details["inflated_at_least"] == BUDGET.component_bytes + 1


def test_truncated_gzip_stream() -> None:
    cut = gzip.compress(b"hello" * 1000)[:20]
    result = check_size(cut, BUDGET)
    assert not result.passed and "gzip stream" in result.reason

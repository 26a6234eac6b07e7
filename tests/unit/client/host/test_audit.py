"""The audit log: bounded, queryable, exportable as JSON lines."""

from __future__ import annotations

import json
from pathlib import Path

from client.host.audit import AuditCounts, AuditLog, summarize


def test_records_and_exports(tmp_path: Path) -> None:
    log = AuditLog("acme/x")
    log.record("read-file", "notes/a", permitted=True, started=1.0, duration_s=0.002)
    log.record("get-env", "PATH", permitted=False, error="deny list", started=2.0, duration_s=0.0)
    assert [e.function for e in log.denied()] == ["get-env"]
    assert len(log.entries(function="read-file")) == 1
    path = tmp_path / "audit.jsonl"
    log.write_jsonl(path)
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert rows[0] == {
        "timestamp": 1.0,
        "plugin": "acme/x",
        "function": "read-file",
        "params": "notes/a",
        "permitted": True,
        "error": None,
        "duration_ms": 2.0,
    }
    assert rows[1]["permitted"] is False and rows[1]["error"] == "deny list"


def test_bounded_and_counts_what_it_drops() -> None:
    log = AuditLog("acme/x", max_entries=10)
    for i in range(25):
        log.record("log", str(i), permitted=True, started=float(i), duration_s=0.0)
    assert len(log) == 10
    assert log.dropped == 15
    assert log.entries()[0].params == "15"


def test_summaries_are_cut() -> None:
    assert len(summarize("x" * 10_000)) <= 256


def test_permitted_calls_never_push_denied_ones_out() -> None:
    log = AuditLog("acme/x", max_entries=100)
    for i in range(3):
        log.record("get-env", f"SECRET_{i}", permitted=False, error="no", started=0.0, duration_s=0)
    for _ in range(10_000):
        log.record("get-env", "FLUSH_VAR", permitted=True, started=0.0, duration_s=0.0)
    assert [e.params for e in log.denied()] == ["SECRET_0", "SECRET_1", "SECRET_2"]
    entries = log.entries()
    assert len(entries) == len(log) == 103  # the denied three, then the 100 most recent
    assert [e.params for e in entries[:4]] == ["SECRET_0", "SECRET_1", "SECRET_2", "FLUSH_VAR"]
    assert log.counts() == AuditCounts(calls=10_003, denied=3, dropped=9_900, denied_dropped=0)


def test_denied_entries_are_bounded_apart_and_what_is_not_kept_is_counted() -> None:
    log = AuditLog("acme/x", max_entries=10, max_denied_entries=5)
    for i in range(50):
        log.record("get-env", str(i), permitted=i % 2 == 1, started=0.0, duration_s=0.0)
    denied = log.denied()
    # The first five denied ones are kept apart; the ring holds the last ten of any kind.
    assert [e.params for e in denied] == ["0", "2", "4", "6", "8", "40", "42", "44", "46", "48"]
    assert log.counts() == AuditCounts(calls=50, denied=25, dropped=35, denied_dropped=20)
    assert [e.params for e in log.entries()][:5] == ["0", "2", "4", "6", "8"]
    assert log.entries()[5:] == log.entries()[-10:]

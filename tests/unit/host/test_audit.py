"""The audit log: bounded, queryable, exportable as JSON lines."""

from __future__ import annotations

import json
from pathlib import Path

from client.host.audit import AuditLog, summarize


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

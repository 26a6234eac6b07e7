"""The marketplace's view-model: permissions in plain words, resources against the defaults,
the transparency-log entry of a bundle; and download counts kept when the database is down."""

from __future__ import annotations

import json
from pathlib import Path

from registry.db import Database, DatabaseSettings
from registry.domain.plugins.download_counts import DownloadCounts
from registry.web.views import human_bytes, permission_lines, resource_rows, tlog_entry


def test_permissions_read_as_plain_words() -> None:
    assert permission_lines({}) == ["no network access", "no file access", "reads no settings"]
    assert permission_lines(
        {
            "network": ["api.weather.example", "*.example.com", "api.example.com:8443"],
            "filesystem": ["data/", "."],
            "env": ["WEATHER_UNITS"],
        }
    ) == [
        "connects to api.weather.example",
        "connects to any host under example.com",
        "connects to api.example.com on port 8443",
        "reads and writes files under data/ in its own folder",
        "reads and writes any file in its own folder",
        "reads the WEATHER_UNITS setting",
    ]
    assert permission_lines({"network": ["[2001:db8::1]:8443"]}) == [
        "connects to [2001:db8::1] on port 8443",
        "no file access",
        "reads no settings",
    ]


def test_resources_are_shown_against_the_defaults() -> None:
    rows = {r.label: (r.requested, r.default) for r in resource_rows({"max_memory_mb": 32})}
    assert rows["memory"] == ("32 MiB", "16 MiB")
    assert rows["fuel per call"] == ("the default", "1,000,000,000")
    assert rows["time per call"] == ("the default", "30 s")


def test_the_transparency_log_entry_comes_from_the_bundle() -> None:
    bundle = {"verificationMaterial": {"tlogEntries": [{"logIndex": "42", "integratedTime": "0"}]}}
    index, at = tlog_entry(json.dumps(bundle).encode())
    assert index == 42 and at is not None and at.year == 1970
    assert tlog_entry(None) == (None, None)
    assert tlog_entry(b"not json") == (None, None)
    assert tlog_entry(b'{"verificationMaterial": {"tlogEntries": []}}') == (None, None)


def test_sizes_read_as_people_write_them() -> None:
    assert human_bytes(999) == "999 bytes"
    assert human_bytes(6321) == "6.2 KiB"
    assert human_bytes(3 * 1024 * 1024) == "3.0 MiB"


def test_download_counts_wait_for_a_database_that_is_down(tmp_path: Path) -> None:
    db = Database(DatabaseSettings(url=f"sqlite:///{tmp_path / 'unmigrated.sqlite3'}"))
    counts = DownloadCounts(db)
    counts.add("acme", "weather", "1.0.0")
    counts.add("acme", "weather", "1.0.0")
    assert counts.flush() == 0  # no tables: nothing written, nothing lost
    assert counts.pending("acme", "weather") == {"1.0.0": 2}
    assert counts.pending("acme", "other") == {}
    db.dispose()

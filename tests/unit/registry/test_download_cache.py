"""The download cache: short-lived records, and small immutable blobs bounded in bytes."""

from __future__ import annotations

import time

from registry.domain.plugins.downloads import DownloadCache, Servable


def test_records_expire_and_can_be_forgotten() -> None:
    cache = DownloadCache(ttl_s=0.05)
    key = ("acme", "hello", "1.0.0", "component")
    record = Servable("a" * 64, 10, "hello.wasm", yanked=False)
    cache.remember(key, record)
    assert cache.record(key) == record
    cache.forget("acme", "hello", "1.0.0")
    assert cache.record(key) is None
    cache.remember(key, Servable("a" * 64, 10, "hello.wasm", yanked=False))
    time.sleep(0.06)
    assert cache.record(key) is None


def test_blobs_are_bounded_and_least_recently_used_go_first() -> None:
    cache = DownloadCache(max_blob_bytes=100, max_total_bytes=250)
    cache.keep("1" * 64, b"x" * 100)
    cache.keep("2" * 64, b"y" * 100)
    assert cache.blob("1" * 64) == b"x" * 100  # now the most recently used
    cache.keep("3" * 64, b"z" * 100)  # over 250 bytes: "2" goes
    assert cache.blob("2" * 64) is None
    assert (cache.blob("1" * 64), cache.blob("3" * 64)) == (b"x" * 100, b"z" * 100)
    cache.keep("4" * 64, b"w" * 101)  # larger than a cacheable blob
    assert cache.blob("4" * 64) is None

"""What makes downloads fast: blobs are content-addressed and immutable, and a downloadable
version stays downloadable (approved ⇄ yanked), so both can be cached safely.

* Records: (namespace, name, version, part) → digest, size, file name, yanked; kept for a
  short TTL, the only thing that can change being the yanked flag.
* Blobs: digest → bytes for small blobs, least recently used first out, bounded in bytes.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

Key = tuple[str, str, str, str]


@dataclass(frozen=True, slots=True)
class Servable:
    """A downloadable file of an approved (or, pinned, yanked) version."""

    sha256: str
    size: int
    filename: str
    yanked: bool


class DownloadCache:
    def __init__(
        self,
        *,
        ttl_s: float = 2.0,
        max_records: int = 10_000,
        max_blob_bytes: int = 1024 * 1024,
        max_total_bytes: int = 64 * 1024 * 1024,
    ) -> None:
        self.ttl_s = ttl_s
        self.max_blob_bytes = max_blob_bytes
        """Blobs larger than this are streamed from the store, never cached."""
        self._max_records = max_records
        self._max_total = max_total_bytes
        self._records: dict[Key, tuple[float, Servable]] = {}
        self._blobs: OrderedDict[str, bytes] = OrderedDict()
        self._total = 0
        self._lock = threading.Lock()

    def record(self, key: Key) -> Servable | None:
        hit = self._records.get(key)
        if hit is None or hit[0] < time.monotonic():
            return None
        return hit[1]

    def remember(self, key: Key, servable: Servable) -> None:
        with self._lock:
            if len(self._records) >= self._max_records:
                self._records.clear()
            self._records[key] = (time.monotonic() + self.ttl_s, servable)

    def forget(self, namespace: str, name: str, version: str) -> None:
        """Drop a version's records (after a yank or un-yank)."""
        with self._lock:
            for key in [k for k in self._records if k[:3] == (namespace, name, version)]:
                del self._records[key]

    def blob(self, sha256: str) -> bytes | None:
        with self._lock:
            data = self._blobs.get(sha256)
            if data is not None:
                self._blobs.move_to_end(sha256)
            return data

    def keep(self, sha256: str, data: bytes) -> None:
        if len(data) > self.max_blob_bytes:
            return
        with self._lock:
            if sha256 in self._blobs:
                return
            self._blobs[sha256] = data
            self._total += len(data)
            while self._total > self._max_total and self._blobs:
                _, dropped = self._blobs.popitem(last=False)
                self._total -= len(dropped)

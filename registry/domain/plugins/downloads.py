"""Downloads: which file of which version may be served, and how to answer for it.

What makes them fast: blobs are content-addressed and immutable, and a downloadable version
stays downloadable (approved ⇄ yanked), so both can be cached safely:

* records: (namespace, name, version, part) → digest, size, file name, yanked; kept for a short
  TTL, the only thing that can change being the yanked flag (a yank forgets them at once in
  this process);
* blobs: digest → bytes for small blobs, least recently used first out, bounded in bytes.

:class:`DownloadService` answers a request with a :class:`DownloadAnswer`: the bytes (from the
cache or the store), a stream for large blobs, a redirect to a presigned URL, or ``304``; with
``ETag``, ``Clawft-Digest``, ``Clawft-Yanked`` and ``Content-Length``.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum

from litestar.concurrency import sync_to_thread

from client.manifest import BUNDLE_SUFFIX, MANIFEST_FILE_NAME
from registry.db import Database
from registry.db.models import DOWNLOADABLE, VersionStatus
from registry.domain.plugins.download_counts import DownloadCounts
from registry.domain.plugins.versions import require_version
from registry.errors import NotApproved, NotFound
from registry.storage import BlobStore

__all__ = ["DownloadAnswer", "DownloadCache", "DownloadService", "Part", "Servable"]

CHUNK = 64 * 1024


class Part(StrEnum):
    """The files of a version."""

    COMPONENT = "component"
    MANIFEST = "manifest"
    BUNDLE = "bundle"


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


@dataclass(frozen=True, slots=True)
class DownloadAnswer:
    """How to answer one download request: ``status`` 200, 302 or 304, and its headers.

    200 carries either ``body`` (empty for ``HEAD``, with ``Content-Length`` set to the
    file's) or ``chunks`` to stream; 302 carries ``location``."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    chunks: Iterator[bytes] | None = None
    location: str | None = None


def etag_matches(if_none_match: str | None, sha256: str) -> bool:
    """Whether an ``If-None-Match`` list names this blob: its ETag (strong or weak, compared
    weakly as RFC 9110 asks for If-None-Match), its bare digest, or ``*``."""
    if not if_none_match:
        return False
    for item in if_none_match[:4096].split(","):
        tag = item.strip().removeprefix("W/")
        if tag in ("*", f'"{sha256}"', sha256):
            return True
    return False


class DownloadService:
    """Answers downloads of version files: the hot path of every fleet."""

    def __init__(
        self,
        db: Database,
        blobs: BlobStore,
        cache: DownloadCache,
        *,
        presign: bool,
        counts: DownloadCounts | None = None,
    ) -> None:
        self.db = db
        self.blobs = blobs
        self.cache = cache
        self.presign = presign
        self.counts = counts
        """Where component downloads are counted (in memory; see :mod:`.download_counts`)."""

    def servable(self, namespace: str, name: str, version: str, part: Part) -> Servable:
        """What may be downloaded of ``part``; NotApproved/NotFound with the reason otherwise."""
        with self.db.session() as session:
            row = require_version(session, namespace, name, version)
            if row.status not in DOWNLOADABLE:
                why = (
                    "was rejected by the verifier; see its report"
                    if row.status == VersionStatus.REJECTED
                    else "is not verified yet"
                )
                raise NotApproved(f"{namespace}/{name} {version} {why} (status: {row.status})")
            files = {
                Part.COMPONENT: (row.component_sha256, row.component_size, row.component_filename),
                Part.MANIFEST: (row.manifest_sha256, row.manifest_size, MANIFEST_FILE_NAME),
                Part.BUNDLE: (
                    row.bundle_sha256,
                    row.bundle_size or 0,
                    f"{row.component_filename}{BUNDLE_SUFFIX}",
                ),
            }
            sha256, size, filename = files[part]
            yanked = row.status == VersionStatus.YANKED
        if sha256 is None:
            raise NotFound(f"{namespace}/{name} {version} has no {part}")
        return Servable(sha256, size, filename, yanked)

    async def answer(
        self, key: tuple[str, str, str, Part], *, head: bool, if_none_match: str | None
    ) -> DownloadAnswer:
        """Cached records and small blobs are answered without a thread hop."""
        found = self.cache.record(key)
        if found is None:
            found = await sync_to_thread(self.servable, *key)
            self.cache.remember(key, found)
        headers = {
            "ETag": f'"{found.sha256}"',
            "Clawft-Digest": f"sha256={found.sha256}",
            "Cache-Control": "public, max-age=31536000, immutable",
        }
        if found.yanked:
            headers["Clawft-Yanked"] = "true"
        if etag_matches(if_none_match, found.sha256):
            return DownloadAnswer(304, headers)
        if self.counts is not None and key[3] == Part.COMPONENT and not head:
            self.counts.add(*key[:3])
        if self.presign:
            url = self.blobs.presigned_url(found.sha256, filename=found.filename)
            if url is not None:
                return DownloadAnswer(302, headers, location=url)
        headers["Content-Disposition"] = f'attachment; filename="{found.filename}"'
        if head:
            return DownloadAnswer(200, {**headers, "Content-Length": str(found.size)}, body=b"")
        if found.size <= self.cache.max_blob_bytes:
            data = self.cache.blob(found.sha256)
            if data is None:
                data = await sync_to_thread(self.blobs.get, found.sha256, max_bytes=found.size)
                self.cache.keep(found.sha256, data)
            return DownloadAnswer(200, headers, body=data)
        stream = await sync_to_thread(self.blobs.open, found.sha256)

        def chunks() -> Iterator[bytes]:
            with stream:
                while chunk := stream.read(CHUNK):
                    yield chunk

        return DownloadAnswer(200, {**headers, "Content-Length": str(found.size)}, chunks=chunks())

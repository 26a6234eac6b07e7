"""Which digests may be downloaded: those an approved or yanked version lists as its
component, manifest or bundle. Once a digest is downloadable it stays so (versions are never
deleted, and approved ⇄ yanked both download), so what was found is remembered for good."""

from __future__ import annotations

import threading
from collections import OrderedDict

import sqlalchemy as sa

from registry.db import Database, PluginVersion
from registry.db.models import DOWNLOADABLE

__all__ = ["DownloadableDigests"]


class DownloadableDigests:
    """Digest → size of every file found downloadable so far (bounded; a miss asks the
    database, and misses are never remembered)."""

    def __init__(self, max_entries: int = 100_000) -> None:
        self._sizes: OrderedDict[str, int] = OrderedDict()
        self._max = max_entries
        self._lock = threading.Lock()

    def get(self, sha256: str) -> int | None:
        return self._sizes.get(sha256)

    def remember(self, sha256: str, size: int) -> None:
        with self._lock:
            self._sizes[sha256] = size
            if len(self._sizes) > self._max:
                self._sizes.popitem(last=False)

    @staticmethod
    def look_up(db: Database, sha256: str) -> int | None:
        """The size of ``sha256`` when a downloadable version lists it, else ``None``."""
        files = (
            (PluginVersion.component_sha256, PluginVersion.component_size),
            (PluginVersion.manifest_sha256, PluginVersion.manifest_size),
            (PluginVersion.bundle_sha256, PluginVersion.bundle_size),
        )
        with db.session() as session:
            for digest, size in files:
                found = session.scalar(
                    sa.select(size)
                    .where(digest == sha256, PluginVersion.status.in_(DOWNLOADABLE))
                    .limit(1)
                )
                if found is not None:
                    return int(found)
        return None

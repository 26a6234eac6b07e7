"""The registry's services, built once from settings and handed to the app and the worker."""

from __future__ import annotations

from dataclasses import dataclass, field

from registry.db import Database, DatabaseUnavailable
from registry.domain.plugins.downloads import DownloadCache
from registry.queue import QueueUnavailable, VerificationQueue
from registry.ratelimit import RateLimiter
from registry.settings import RegistrySettings
from registry.storage import BlobStore, StorageUnavailable


@dataclass
class RegistryServices:
    """Everything a request handler may use; no globals."""

    settings: RegistrySettings
    db: Database
    blobs: BlobStore
    queue: VerificationQueue
    publish_limiter: RateLimiter
    token_limiter: RateLimiter
    downloads: DownloadCache = field(default_factory=DownloadCache)

    def readiness(self) -> dict[str, str]:
        """``ok`` or the reason, for the database, the blob store and the broker."""
        checks: dict[str, str] = {}
        for name, probe, errors in (
            ("database", self.db.check, (DatabaseUnavailable,)),
            ("blobs", self.blobs.check, (StorageUnavailable,)),
            ("broker", self.queue.check, (QueueUnavailable,)),
        ):
            try:
                probe()
                checks[name] = "ok"
            except errors as exc:
                checks[name] = str(exc)
        return checks

"""The registry's services, built once from settings and handed to the app and the worker.

Handlers receive them by injection (:mod:`registry.app` provides ``services`` and
``downloads``); guards and the request class, which Litestar does not inject into, read them
with :func:`services_of`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from litestar import Litestar

from registry.db import Database, DatabaseUnavailable
from registry.domain.plugins.digests import DownloadableDigests
from registry.domain.plugins.download_counts import DownloadCounts
from registry.domain.plugins.downloads import DownloadCache, DownloadService
from registry.queue import QueueUnavailable, VerificationQueue
from registry.ratelimit import Limiter
from registry.settings import RegistrySettings
from registry.storage import BlobStore, StorageUnavailable


@dataclass
class RegistryServices:
    """Everything a request handler may use; no globals."""

    settings: RegistrySettings
    db: Database
    blobs: BlobStore
    queue: VerificationQueue
    publish_limiter: Limiter
    token_limiter: Limiter
    downloads: DownloadCache = field(default_factory=DownloadCache)
    digests: DownloadableDigests = field(default_factory=DownloadableDigests)
    """Digests of downloadable files found so far (``GET /blobs/sha256/{hex}``)."""
    download_counts: DownloadCounts = field(init=False)
    """Component downloads counted in this process, written to the database in batches."""

    def __post_init__(self) -> None:
        self.download_counts = DownloadCounts(self.db)

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

    def download_service(self) -> DownloadService:
        return DownloadService(
            self.db,
            self.blobs,
            self.downloads,
            presign=self.settings.presign_downloads,
            counts=self.download_counts,
        )


def services_of(app: Litestar | Any) -> RegistryServices:
    """The services an app was built with (for guards and the request class)."""
    services = app.state.get("services")
    if not isinstance(services, RegistryServices):
        raise RuntimeError("the app was not built by registry.app.create_app: it has no services")
    return services

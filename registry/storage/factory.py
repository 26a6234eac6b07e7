"""Build the configured :class:`~registry.storage.base.BlobStore` from its settings."""

from __future__ import annotations

from registry.storage.base import BlobStore
from registry.storage.local import LocalDirectoryBlobStore
from registry.storage.s3 import S3BlobStore
from registry.storage.settings import StorageSettings


def create_blob_store(settings: StorageSettings) -> BlobStore:
    """The store ``settings`` choose. A local store creates its directories now, so a bad
    ``CLAWFT_STORAGE_DIR`` fails when the app is built; an S3 store does no I/O until used
    (call ``check()`` at startup to fail early)."""
    if settings.backend == "s3" and settings.s3 is not None:
        return S3BlobStore(settings.s3)
    if settings.backend == "local" and settings.local is not None:
        return LocalDirectoryBlobStore(settings.local.root)
    raise ValueError(f"unknown storage backend {settings.backend!r}: use 'local' or 's3'")

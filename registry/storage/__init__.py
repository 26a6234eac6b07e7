"""The registry's object storage: content-addressed, write-once blobs behind a ``BlobStore``.

Backends: :class:`LocalDirectoryBlobStore` (the embedded default), :class:`S3BlobStore`
(AWS S3, MinIO) and :class:`InMemoryBlobStore` (unit tests). Build one from settings with
:func:`create_blob_store`; see :mod:`registry.storage.base` for the contract and the errors.
"""

from __future__ import annotations

from registry.storage.base import (
    BLOB_PREFIX,
    BlobInfo,
    BlobNotFound,
    BlobStore,
    BlobStoreError,
    BlobTooLarge,
    DigestMismatch,
    InvalidDigest,
    StorageUnavailable,
    StoreCorrupted,
    blob_key,
    validate_sha256,
)
from registry.storage.factory import create_blob_store
from registry.storage.local import LocalDirectoryBlobStore
from registry.storage.memory import InMemoryBlobStore
from registry.storage.s3 import S3BlobStore
from registry.storage.settings import LocalStoreSettings, S3Settings, StorageSettings

__all__ = [
    "BLOB_PREFIX",
    "BlobInfo",
    "BlobNotFound",
    "BlobStore",
    "BlobStoreError",
    "BlobTooLarge",
    "DigestMismatch",
    "InMemoryBlobStore",
    "InvalidDigest",
    "LocalDirectoryBlobStore",
    "LocalStoreSettings",
    "S3BlobStore",
    "S3Settings",
    "StorageSettings",
    "StorageUnavailable",
    "StoreCorrupted",
    "blob_key",
    "create_blob_store",
    "validate_sha256",
]

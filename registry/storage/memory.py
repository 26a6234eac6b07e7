"""An in-memory :class:`~registry.storage.base.BlobStore` for unit tests of services."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterable, Iterator
from typing import BinaryIO

from registry.storage._streaming import check_put_arguments, write_hashed
from registry.storage.base import (
    BlobInfo,
    BlobNotFound,
    BlobStore,
    StorageUnavailable,
    validate_sha256,
)


class InMemoryBlobStore(BlobStore):
    """Blobs in a dict, with the same semantics as the real stores; thread-safe.

    :meth:`set_unavailable` makes every operation raise :class:`StorageUnavailable`, so a test
    can drive a service (or ``/readyz``) through an outage of the object store.
    """

    def __init__(self) -> None:
        self._blobs: dict[str, bytes] = {}
        self._lock = threading.Lock()
        self._outage: str | None = None

    def set_unavailable(self, reason: str | None) -> None:
        """Simulate an outage (``reason`` is the error message) or end it (``None``)."""
        self._outage = reason

    def _available(self) -> None:
        if self._outage is not None:
            raise StorageUnavailable(self._outage)

    def put_stream(
        self, chunks: Iterable[bytes], *, max_bytes: int, expected_sha256: str | None = None
    ) -> BlobInfo:
        expected = check_put_arguments(max_bytes, expected_sha256)
        self._available()
        buffer = bytearray()
        info = write_hashed(chunks, buffer.extend, max_bytes=max_bytes, expected_sha256=expected)
        with self._lock:
            self._blobs.setdefault(info.sha256, bytes(buffer))
        return info

    def _read(self, sha256: str) -> bytes:
        validate_sha256(sha256)
        self._available()
        with self._lock:
            data = self._blobs.get(sha256)
        if data is None:
            raise BlobNotFound(f"no blob sha256 {sha256} in the in-memory store")
        return data

    def open_sized(self, sha256: str) -> tuple[BinaryIO, int]:
        data = self._read(sha256)
        return io.BytesIO(data), len(data)

    def stat(self, sha256: str) -> BlobInfo | None:
        validate_sha256(sha256)
        self._available()
        with self._lock:
            data = self._blobs.get(sha256)
        return None if data is None else BlobInfo(sha256=sha256, size=len(data))

    def delete(self, sha256: str) -> None:
        validate_sha256(sha256)
        self._available()
        with self._lock:
            self._blobs.pop(sha256, None)

    def check(self) -> None:
        self._available()

    def iter_digests(self) -> Iterator[str]:
        self._available()
        with self._lock:
            digests = list(self._blobs)
        return iter(digests)

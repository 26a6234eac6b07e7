"""The registry's object storage contract: content-addressed blobs behind a ``BlobStore``.

A blob lives at ``blobs/sha256/<64 lowercase hex>`` (:func:`blob_key`), is written once and never
overwritten: putting content that is already stored is a successful no-op (same content, same
address). A write streams to a temporary place while hashing and counting, and the blob becomes
visible at its address only after every check passed, so a refused, failed or interrupted write
leaves nothing at the address.

Errors (``str()`` is meant for the operator and says what to do)::

    BlobStoreError
     ├── InvalidDigest        (also ValueError) not 64 lowercase hex: refused before any I/O
     ├── BlobNotFound         (also FileNotFoundError) no blob at that address
     ├── BlobTooLarge         the stream passed max_bytes: refused without reading the rest
     ├── DigestMismatch       the content does not hash to expected_sha256: nothing stored
     └── StoreCorrupted       something other than a blob sits at an address: an operator's job

    StorageUnavailable       the store could not be reached or refused to serve: retry later
                             (the verifier's port error, verifier.storage.StorageUnavailable:
                             one class for every store behind a seam, so nothing translates)
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from verifier.storage import StorageUnavailable

__all__ = [
    "BLOB_PREFIX",
    "BlobInfo",
    "BlobNotFound",
    "BlobStore",
    "BlobStoreError",
    "BlobTooLarge",
    "DigestMismatch",
    "InvalidDigest",
    "StorageUnavailable",
    "StoreCorrupted",
    "blob_key",
    "validate_max_bytes",
    "validate_sha256",
]

BLOB_PREFIX = "blobs/sha256/"
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


class BlobStoreError(Exception):
    """Base of the storage errors."""


class InvalidDigest(BlobStoreError, ValueError):
    """A digest argument is not 64 lowercase hex characters; no storage was touched."""


class BlobNotFound(BlobStoreError, FileNotFoundError):
    """No blob is stored at this digest (never written, or garbage-collected)."""


class BlobTooLarge(BlobStoreError):
    """The content is larger than the limit the caller set; nothing was stored."""

    def __init__(self, message: str, *, max_bytes: int) -> None:
        super().__init__(message)
        self.max_bytes = max_bytes


class DigestMismatch(BlobStoreError):
    """The content does not hash to the digest the caller expected; nothing was stored."""

    def __init__(self, message: str, *, expected: str, actual: str) -> None:
        super().__init__(message)
        self.expected = expected
        self.actual = actual


class StoreCorrupted(BlobStoreError):
    """Something that is not a blob sits at a blob's address; retrying cannot help."""


@dataclass(frozen=True, slots=True)
class BlobInfo:
    """What the store knows about one blob: its digest and length in bytes."""

    sha256: str
    size: int

    @property
    def key(self) -> str:
        """The blob's address in the store, ``blobs/sha256/<hex>``."""
        return blob_key(self.sha256)


def validate_sha256(digest: object) -> str:
    """``digest`` if it is 64 lowercase hex characters, else :class:`InvalidDigest`."""
    if isinstance(digest, str) and _SHA256_HEX.fullmatch(digest):
        return digest
    shown = repr(digest)
    shown = shown if len(shown) <= 80 else shown[:77] + "..."
    raise InvalidDigest(
        f"refusing digest {shown}: a blob digest is the sha256 of its content as 64 lowercase "
        "hex characters, without a 'sha256:' prefix"
    )


def blob_key(sha256: str) -> str:
    """The address of a blob, ``blobs/sha256/<hex>``, after validating the digest."""
    return BLOB_PREFIX + validate_sha256(sha256)


def validate_max_bytes(max_bytes: object) -> int:
    """``max_bytes`` if it is a non-negative ``int``; a limit is never optional."""
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 0:
        raise ValueError(f"max_bytes must be a non-negative int, got {max_bytes!r}")
    return max_bytes


class BlobStore(ABC):
    """Content-addressed, write-once blob storage. Synchronous: call it from a worker thread.

    The shared behaviour lives here (argument checks, ``get`` within a limit, ``put_bytes``,
    ``exists``, no presigned URLs); a backend implements the primitives: ``put_stream``,
    ``open_sized``, ``stat``, ``delete``, ``check`` and ``iter_digests``.
    """

    # -- primitives ------------------------------------------------------------------------

    @abstractmethod
    def put_stream(
        self, chunks: Iterable[bytes], *, max_bytes: int, expected_sha256: str | None = None
    ) -> BlobInfo:
        """Store the concatenated chunks and return their digest and size.

        Raises :class:`BlobTooLarge` as soon as more than ``max_bytes`` were pulled (the rest
        is never read), :class:`DigestMismatch` if ``expected_sha256`` is given and differs.
        Storing content that is already stored is a no-op success.
        """

    @abstractmethod
    def open_sized(self, sha256: str) -> tuple[BinaryIO, int]:
        """A readable stream over the blob (``sha256`` already validated) and its size in
        bytes, or :class:`BlobNotFound`."""

    @abstractmethod
    def stat(self, sha256: str) -> BlobInfo | None:
        """The blob's :class:`BlobInfo`, or ``None`` if it is not stored."""

    @abstractmethod
    def delete(self, sha256: str) -> None:
        """Remove the blob; for garbage collection of unreferenced blobs only. Idempotent."""

    @abstractmethod
    def check(self) -> None:
        """Return if the store can serve requests, else raise :class:`StorageUnavailable`."""

    @abstractmethod
    def iter_digests(self) -> Iterator[str]:
        """Every stored blob's digest, in no particular order (for a garbage-collection sweep)."""

    # -- shared behaviour ------------------------------------------------------------------

    def put_bytes(
        self, data: bytes, *, max_bytes: int, expected_sha256: str | None = None
    ) -> BlobInfo:
        """:meth:`put_stream` over one chunk."""
        return self.put_stream([data], max_bytes=max_bytes, expected_sha256=expected_sha256)

    def open(self, sha256: str) -> BinaryIO:
        """A readable binary stream over the blob (use ``with``), or :class:`BlobNotFound`."""
        stream, _size = self.open_sized(validate_sha256(sha256))
        return stream

    def get(self, sha256: str, *, max_bytes: int) -> bytes:
        """The whole blob, or :class:`BlobTooLarge` if it is longer than ``max_bytes`` (a
        longer blob is not read)."""
        validate_max_bytes(max_bytes)
        stream, size = self.open_sized(validate_sha256(sha256))
        with stream:
            data = stream.read(max_bytes + 1) if size <= max_bytes else b""
        if size > max_bytes or len(data) > max_bytes:
            raise BlobTooLarge(
                f"blob sha256 {sha256} is {max(size, len(data))} bytes, more than the limit of "
                f"{max_bytes}; stream it with open() instead",
                max_bytes=max_bytes,
            )
        return data

    def exists(self, sha256: str) -> bool:
        """Whether the blob is stored."""
        return self.stat(sha256) is not None

    def file_path(self, sha256: str) -> Path | None:
        """The blob's own file, for a server to send without reading it into Python (ASGI
        ``http.response.pathsend``), or ``None`` when this store keeps no such file."""
        validate_sha256(sha256)
        return None

    def presigned_url(
        self, sha256: str, *, expires_s: int | None = None, filename: str | None = None
    ) -> str | None:
        """A time-limited GET URL that downloads the blob as ``filename``, or ``None`` if this
        store cannot hand out URLs (or is configured not to). Does not check that it exists."""
        validate_sha256(sha256)
        return None

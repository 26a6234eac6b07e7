"""The one streaming loop every backend writes through: hash, count, enforce the limit."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Generator, Iterable

from registry.storage.base import (
    BlobInfo,
    BlobTooLarge,
    DigestMismatch,
    validate_max_bytes,
    validate_sha256,
)


def check_put_arguments(max_bytes: object, expected_sha256: object) -> str | None:
    """Validate a put's arguments before anything is read or written."""
    validate_max_bytes(max_bytes)
    return None if expected_sha256 is None else validate_sha256(expected_sha256)


def write_hashed(
    chunks: Iterable[bytes],
    write: Callable[[bytes], object],
    *,
    max_bytes: int,
    expected_sha256: str | None,
) -> BlobInfo:
    """Pass every chunk to ``write`` while hashing and counting; return the content's BlobInfo.

    Raises :class:`BlobTooLarge` on the first chunk that takes the total past ``max_bytes``
    (that chunk is not written and no further chunk is pulled; a generator is closed), and
    :class:`DigestMismatch` after the last chunk if ``expected_sha256`` differs. The caller
    discards what was written when this raises.
    """
    hasher = hashlib.sha256()
    size = 0
    iterator = iter(chunks)
    try:
        for chunk in iterator:
            if not isinstance(chunk, bytes | bytearray | memoryview):
                raise TypeError(f"blob chunks must be bytes, got {type(chunk).__name__}")
            size += len(chunk)
            if size > max_bytes:
                raise BlobTooLarge(
                    f"refusing the blob: it is larger than the limit of {max_bytes} bytes",
                    max_bytes=max_bytes,
                )
            if chunk:
                hasher.update(chunk)
                write(bytes(chunk) if isinstance(chunk, memoryview) else chunk)
    finally:
        if isinstance(iterator, Generator):
            iterator.close()
    actual = hasher.hexdigest()
    if expected_sha256 is not None and actual != expected_sha256:
        raise DigestMismatch(
            f"refusing the blob: its content hashes to sha256 {actual}, not the expected "
            f"{expected_sha256}; it was altered or truncated in transit, upload it again",
            expected=expected_sha256,
            actual=actual,
        )
    return BlobInfo(sha256=actual, size=size)

"""A disk cache of compiled components, so a second load skips compilation.

Entries are keyed by the component's sha256 and the engine fingerprint (wasmtime version and
configuration), and carry a checksum of the compiled bytes. An entry that is corrupt, foreign
(another key or engine), or refused by wasmtime is deleted and rebuilt, never trusted.

Deserializing compiled code runs it natively, so the cache directory must belong to the host's
user and be writable by nobody else; a directory that is not is refused.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import secrets
import stat
from pathlib import Path

import wasmtime
from wasmtime.component import Component

_log = logging.getLogger("clawft.host.cache")

MAGIC = b"CLAWFT-COMPILED-COMPONENT/1\n"
_HEADER = len(MAGIC) + 64 + 16 + 32


class UnsafeCacheDirectory(Exception):
    """The cache directory could be written by someone other than the host's user."""


class CompiledComponentCache:
    """Compiled components under ``root/<engine fingerprint>/<sha256>.cwasm``."""

    def __init__(self, root: Path, *, engine: wasmtime.Engine, fingerprint: str) -> None:
        if len(fingerprint) != 16:
            raise ValueError("engine fingerprint must be 16 hex characters")
        self.engine = engine
        self.fingerprint = fingerprint
        self.directory = root / fingerprint
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        for path in (root, self.directory):
            info = path.stat()
            if info.st_uid != os.getuid() or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
                raise UnsafeCacheDirectory(
                    f"cache directory {path} must be owned by this user and not group- or "
                    "world-writable (chmod 700 it, or choose another cache_dir)"
                )
        self.hits = 0
        self.misses = 0

    def _path(self, digest: str) -> Path:
        return self.directory / f"{digest}.cwasm"

    def load(self, digest: str) -> Component | None:
        """The cached compiled component for ``digest``, or ``None`` (rebuilding bad entries)."""
        path = self._path(digest)
        try:
            blob = path.read_bytes()
        except FileNotFoundError:
            return None
        payload = self._verified_payload(blob, digest)
        if payload is None:
            _log.warning("discarding corrupt or foreign cache entry %s", path)
            self._discard(path)
            return None
        try:
            component = Component.deserialize(self.engine, payload)
        except wasmtime.WasmtimeError as exc:
            _log.warning("wasmtime refused cache entry %s (%s); rebuilding", path, exc)
            self._discard(path)
            return None
        self.hits += 1
        return component

    def _verified_payload(self, blob: bytes, digest: str) -> bytes | None:
        if len(blob) < _HEADER or not blob.startswith(MAGIC):
            return None
        offset = len(MAGIC)
        key = blob[offset : offset + 64]
        fingerprint = blob[offset + 64 : offset + 80]
        checksum = blob[offset + 80 : offset + 112]
        payload = blob[_HEADER:]
        if key != digest.encode() or fingerprint != self.fingerprint.encode():
            return None
        if hashlib.sha256(payload).digest() != checksum:
            return None
        return payload

    def store(self, digest: str, component: Component) -> None:
        """Write the compiled form of ``component`` atomically (temp file, then rename)."""
        payload = bytes(component.serialize())
        blob = (
            MAGIC
            + digest.encode()
            + self.fingerprint.encode()
            + hashlib.sha256(payload).digest()
            + payload
        )
        path = self._path(digest)
        temp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
        try:
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(blob)
            temp.replace(path)
        except OSError as exc:
            _log.warning("cannot write cache entry %s: %s", path, exc)
            with contextlib.suppress(OSError):
                temp.unlink()
        self.misses += 1

    @staticmethod
    def _discard(path: Path) -> None:
        with contextlib.suppress(OSError):
            path.unlink()

"""A disk cache of compiled components, so a second load skips compilation and every check
whose answer depends only on the component's bytes.

An entry is two files under ``root/<engine fingerprint>/``, keyed by the component's sha256:

* ``<sha256>.cwasm``: wasmtime's compiled artifact exactly as ``Component.serialize`` wrote
  it, so a load maps it (``Component.deserialize_file``) instead of copying it twice;
* ``<sha256>.facts``: what was learned from the bytes when they were compiled (size, gzipped
  size, imports and exports), the artifact's sha256 and length, the key and the engine;
  checksummed.

A load reads the facts, checks the artifact against them (one hash, in C) and maps it: it
never re-reads, re-compresses or re-inspects the component. An entry that is corrupt, foreign
(another key or engine), half written or refused by wasmtime is deleted and rebuilt, never
trusted. The facts are written last, so an entry without them is not an entry.

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
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import msgspec
import wasmtime
from wasmtime.component import Component

from client.host.imports import ComponentShape, ItemShape

_log = logging.getLogger("clawft.host.cache")

MAGIC = b"CLAWFT-COMPILED-COMPONENT/2\n"
MAX_FACTS_BYTES = 1024 * 1024
"""A facts file is a few KB; anything larger is not ours and is not read."""


class UnsafeCacheDirectory(Exception):
    """The cache directory could be written by someone other than the host's user."""


class ComponentFacts(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """What the bytes of one component said when it was compiled."""

    key: str
    """The component's sha256."""
    engine: str
    """The fingerprint of the engine that compiled it."""
    artifact_sha256: str
    artifact_size: Annotated[int, msgspec.Meta(ge=0)]
    size: Annotated[int, msgspec.Meta(ge=0)]
    """Bytes of the component."""
    gzipped_size: Annotated[int, msgspec.Meta(ge=0)] | None
    """Bytes gzipped as the budget defines it (level 9); ``None`` when it was not needed: even
    incompressible data of ``size`` bytes fit the budget of the host that compiled it."""
    imports: dict[str, ItemShape]
    exports: dict[str, ItemShape]

    @property
    def shape(self) -> ComponentShape:
        return ComponentShape(imports=dict(self.imports), exports=dict(self.exports))


@dataclass(frozen=True, slots=True)
class CachedComponent:
    component: Component
    facts: ComponentFacts


class CompiledComponentCache:
    """Compiled components and their facts under ``root/<engine fingerprint>/``."""

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

    def artifact_path(self, digest: str) -> Path:
        return self.directory / f"{digest}.cwasm"

    def facts_path(self, digest: str) -> Path:
        return self.directory / f"{digest}.facts"

    def load(self, digest: str) -> CachedComponent | None:
        """The cached compiled component for ``digest`` with its facts, or ``None``
        (discarding a bad entry)."""
        facts_path = self.facts_path(digest)
        raw = _read(facts_path, MAX_FACTS_BYTES)
        if raw is None:
            return None
        facts = self._verified_facts(raw, digest)
        artifact = self.artifact_path(digest)
        data = _read(artifact, facts.artifact_size) if facts is not None else None
        if (
            facts is None
            or data is None
            or len(data) != facts.artifact_size
            or hashlib.sha256(data).hexdigest() != facts.artifact_sha256
        ):
            _log.warning("discarding corrupt or foreign cache entry %s", artifact)
            self._discard(digest)
            return None
        try:
            # Mapped, not copied; the bytes just checked are the file's (only this user can
            # write the directory, and every writer replaces files whole by renaming).
            component = Component.deserialize_file(self.engine, str(artifact))
        except wasmtime.WasmtimeError as exc:
            _log.warning("wasmtime refused cache entry %s (%s); rebuilding", artifact, exc)
            self._discard(digest)
            return None
        self.hits += 1
        return CachedComponent(component, facts)

    def _verified_facts(self, raw: bytes, digest: str) -> ComponentFacts | None:
        header = len(MAGIC) + 65
        if len(raw) < header or not raw.startswith(MAGIC) or raw[header - 1 : header] != b"\n":
            return None
        checksum, body = raw[len(MAGIC) : header - 1], raw[header:]
        if hashlib.sha256(body).hexdigest().encode() != checksum:
            return None
        try:
            facts = msgspec.json.decode(body, type=ComponentFacts)
        except msgspec.DecodeError:
            return None
        if facts.key != digest or facts.engine != self.fingerprint:
            return None
        return facts

    def store(
        self, digest: str, component: Component, *, size: int, gzipped_size: int | None
    ) -> ComponentFacts:
        """Write the compiled form of ``component`` and its facts, each atomically (temporary
        file, then rename), the facts last; returns the facts."""
        artifact = bytes(component.serialize())
        shape = ComponentShape.of(component, self.engine)
        facts = ComponentFacts(
            key=digest,
            engine=self.fingerprint,
            artifact_sha256=hashlib.sha256(artifact).hexdigest(),
            artifact_size=len(artifact),
            size=size,
            gzipped_size=gzipped_size,
            imports=shape.imports,
            exports=shape.exports,
        )
        body = msgspec.json.encode(facts)
        record = MAGIC + hashlib.sha256(body).hexdigest().encode() + b"\n" + body
        if self._write(self.artifact_path(digest), artifact):
            self._write(self.facts_path(digest), record)
        self.misses += 1
        return facts

    @staticmethod
    def _write(path: Path, data: bytes) -> bool:
        temp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
        try:
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            temp.replace(path)
        except OSError as exc:
            _log.warning("cannot write cache entry %s: %s", path, exc)
            with contextlib.suppress(OSError):
                temp.unlink()
            return False
        return True

    def _discard(self, digest: str) -> None:
        for path in (self.facts_path(digest), self.artifact_path(digest)):
            with contextlib.suppress(OSError):
                path.unlink()


def _read(path: Path, limit: int) -> bytes | None:
    """At most ``limit`` + 1 bytes of the regular file at ``path`` (links are not followed);
    ``None`` when there is none."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        return None
    with os.fdopen(fd, "rb") as handle:
        return handle.read(limit + 1)

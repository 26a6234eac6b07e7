"""Downloads answered before the app: the hot path of every fleet, with the least Python.

:class:`DownloadFastPath` wraps the registry app (``serve``'s HTTP workers run it) and answers a
plain ``GET`` of a file it already knows to be downloadable — a digest remembered by
``/blobs/sha256/{hex}`` (:mod:`registry.domain.plugins.digests`), or a version's file whose
download record is cached (:class:`~registry.domain.plugins.downloads.DownloadCache`, the same
2-second record the named route keeps) — with exactly the headers those routes send, the bytes
from the blob cache or the file sent by the server itself (ASGI ``pathsend``). Everything else
(the first request for a file, ``HEAD``, conditional and range requests, presigned or proxied
downloads, other paths) goes to the app unchanged, which answers it and fills the caches. So a
fast answer is never one the app would not give: only where it is found differs.

A fast answer costs about 3 µs of Python (``granian`` and its event loop take the rest): its
headers are built once per file, its request id is a counter behind a random per-process
prefix rather than a fresh UUID, and its metrics are added up in memory and passed to
prometheus-client once a second.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from registry.domain.plugins.blobs import IMMUTABLE, digest_headers
from registry.domain.plugins.downloads import Part, Servable
from registry.logs import REQUEST_ID_HEADER, sane_request_id
from registry.metrics import DOWNLOAD_BYTES, DOWNLOADS
from registry.services import RegistryServices

__all__ = ["TALLY_DELAY_S", "DownloadFastPath"]

ASGIApp = Callable[[Any, Any, Any], Awaitable[None]]
_NAMED = re.compile(
    r"/api/v1/plugins/([A-Za-z0-9][A-Za-z0-9._+-]{0,127})/([A-Za-z0-9][A-Za-z0-9._+-]{0,127})"
    r"/versions/([A-Za-z0-9][A-Za-z0-9._+-]{0,127})/(component|manifest|bundle)"
)
_BLOB = "/blobs/sha256/"
_DIGEST_AT = len(_BLOB)
_HEX = re.compile(r"[0-9a-f]{64}")
_CONDITIONAL = frozenset({b"range", b"if-none-match", b"if-range", b"if-match"})
_OCTETS = (b"content-type", b"application/octet-stream")


class DownloadFastPath:
    """The registry app, with cached downloads answered in front of it (see the module)."""

    def __init__(self, app: ASGIApp, services: RegistryServices) -> None:
        self.app = app
        self._services = services
        settings = services.settings
        self._enabled = not settings.presign_downloads and not settings.blob_accel_prefix
        self._by_digest: dict[str, _Answer] = {}
        """Digest → its by-digest answer, built once (downloadable digests stay so)."""
        self._named: dict[Servable, _Answer] = {}
        """A cached download record → its answer (records live 2 s; bounded)."""
        self._request_ids = _RequestIds()
        self._tally = _Tally()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if self._enabled and scope["type"] == "http" and scope["method"] == "GET":
            answer = self._answer_for(scope["path"])
            if answer is not None and "http.response.pathsend" in (scope.get("extensions") or {}):
                request_id: str | None = None
                given = False  # the first X-Request-Id counts, as in the app
                for name, value in scope["headers"]:
                    if name in _CONDITIONAL:
                        break
                    if name == b"x-request-id" and not given:
                        given = True
                        request_id = sane_request_id(value.decode("latin-1"))
                else:
                    if await self._send(answer, request_id, send):
                        return
        elif scope["type"] == "lifespan":
            await self.app(scope, receive, self._flushing_at_shutdown(send))
            return
        await self.app(scope, receive, send)

    def _flushing_at_shutdown(self, send: Any) -> Any:
        async def sending(message: Any) -> None:
            if message["type"] == "lifespan.shutdown.complete":
                self._tally.flush()
            await send(message)

        return sending

    def _answer_for(self, path: str) -> _Answer | None:
        if path.startswith(_BLOB):
            digest = path[_DIGEST_AT:]
            answer = self._by_digest.get(digest)  # only well-formed digests are keys
            if answer is not None or _HEX.fullmatch(digest) is None:
                return answer
            size = self._services.digests.get(digest)
            if size is None:
                return None
            answer = _Answer.of(
                "blob",
                digest,
                size,
                [*digest_headers(digest), _OCTETS, (b"content-length", str(size).encode())],
            )
            if len(self._by_digest) >= _MAX_ANSWERS:
                self._by_digest.clear()
            self._by_digest[digest] = answer
            return answer
        match = _NAMED.fullmatch(path)
        if match is None:
            return None
        namespace, name, version, part = match.groups()
        found = self._services.downloads.record((namespace, name, version, Part(part)))
        if found is None:
            return None
        answer = self._named.get(found)
        if answer is None:
            answer = _Answer.of(
                part,
                found.sha256,
                found.size,
                [
                    (b"etag", b'"' + found.sha256.encode() + b'"'),
                    (b"clawft-digest", b"sha256=" + found.sha256.encode()),
                    (b"cache-control", IMMUTABLE),
                    *([(b"clawft-yanked", b"true")] if found.yanked else []),
                    (
                        b"content-disposition",
                        f'attachment; filename="{found.filename}"'.encode(),
                    ),
                    _OCTETS,
                    (b"content-length", str(found.size).encode()),
                ],
                counted=(namespace, name, version) if part == Part.COMPONENT else None,
            )
            if len(self._named) >= _MAX_ANSWERS:
                self._named.clear()
            self._named[found] = answer
        return answer

    async def _send(self, answer: _Answer, request_id: str | None, send: Any) -> bool:
        cached = self._services.downloads.blob(answer.digest)
        path = None if cached is not None else self._services.blobs.file_path(answer.digest)
        if cached is None and path is None:
            return False
        headers = [
            *answer.headers,
            (_REQUEST_ID, (request_id or self._request_ids.next()).encode()),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        if cached is not None:
            await send({"type": "http.response.body", "body": cached})
        else:
            await send({"type": "http.response.pathsend", "path": str(path)})
        self._tally.add(answer.kind, answer.size)
        if answer.counted is not None:  # counted in memory, as the app's route does
            self._services.download_counts.add(*answer.counted)
        return True


_MAX_ANSWERS = 10_000
"""Answers kept per kind (about 1 KB each); past it, all are dropped and built again."""
_REQUEST_ID = REQUEST_ID_HEADER.lower().encode()


@dataclass(frozen=True, slots=True)
class _Answer:
    """A 200 for one downloadable file, all but its request id built once: the headers the
    app's route sends."""

    kind: str
    """Its ``kind`` in the download metrics."""
    digest: str
    size: int
    headers: tuple[tuple[bytes, bytes], ...]
    counted: tuple[str, str, str] | None
    """The version whose download count it adds to (components only)."""

    @classmethod
    def of(
        cls,
        kind: str,
        digest: str,
        size: int,
        headers: list[tuple[bytes, bytes]],
        counted: tuple[str, str, str] | None = None,
    ) -> _Answer:
        return cls(kind=kind, digest=digest, size=size, headers=tuple(headers), counted=counted)


class _Tally:
    """The download metrics of fast answers, added up in memory and passed to
    prometheus-client at most once a second (in multi-process mode each increment is a locked
    write to a shared file, a noticeable part of a fast answer's cost): ``/metrics`` shows them
    within :data:`TALLY_DELAY_S`, and a worker that stops passes on what it holds at the end of
    the app's lifespan. Used from one thread (granian's event loop)."""

    def __init__(self) -> None:
        self._pending: dict[str, list[int]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None

    def add(self, kind: str, size: int) -> None:
        if not self._pending:
            self._loop = asyncio.get_running_loop()
            self._loop.call_later(TALLY_DELAY_S, self.flush)
        elif self._loop is not asyncio.get_running_loop():  # the loop to flush them has ended
            self.flush()
            self.add(kind, size)
            return
        pending = self._pending.get(kind)
        if pending is None:
            self._pending[kind] = [1, size]
        else:
            pending[0] += 1
            pending[1] += size

    def flush(self) -> None:
        pending, self._pending = self._pending, {}
        for kind, (requests, sent) in pending.items():
            DOWNLOADS.labels(kind=kind, status="200").inc(requests)
            DOWNLOAD_BYTES.labels(kind=kind).inc(sent)


TALLY_DELAY_S = 1.0
"""How long a fast answer may wait to appear in ``/metrics``."""


class _RequestIds:
    """Request ids for answers whose client sent none: 32 hex digits like the app's
    (``uuid4().hex``), a random 80-bit prefix per process and a counter, at a fraction of the
    cost of a fresh UUID each time."""

    def __init__(self) -> None:
        self._prefix = uuid.uuid4().hex[:20]
        self._counter = itertools.count()

    def next(self) -> str:
        return f"{self._prefix}{next(self._counter) & 0xFFFFFFFFFFFF:012x}"

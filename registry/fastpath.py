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
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from registry.domain.plugins.blobs import IMMUTABLE, digest_headers
from registry.domain.plugins.downloads import Part
from registry.logs import REQUEST_ID_HEADER, sane_request_id
from registry.metrics import DOWNLOAD_BYTES, DOWNLOADS
from registry.services import RegistryServices

__all__ = ["DownloadFastPath"]

ASGIApp = Callable[[Any, Any, Any], Awaitable[None]]
_NAMED = re.compile(
    r"/api/v1/plugins/([A-Za-z0-9][A-Za-z0-9._+-]{0,127})/([A-Za-z0-9][A-Za-z0-9._+-]{0,127})"
    r"/versions/([A-Za-z0-9][A-Za-z0-9._+-]{0,127})/(component|manifest|bundle)"
)
_DIGEST = re.compile(r"/blobs/sha256/([0-9a-f]{64})")
_CONDITIONAL = frozenset({b"range", b"if-none-match", b"if-range", b"if-match"})
_OCTETS = (b"content-type", b"application/octet-stream")


class DownloadFastPath:
    """The registry app, with cached downloads answered in front of it (see the module)."""

    def __init__(self, app: ASGIApp, services: RegistryServices) -> None:
        self.app = app
        self._services = services
        settings = services.settings
        self._enabled = not settings.presign_downloads and not settings.blob_accel_prefix

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if (
            self._enabled
            and scope["type"] == "http"
            and scope["method"] == "GET"
            and "http.response.pathsend" in (scope.get("extensions") or {})
            and not any(name in _CONDITIONAL for name, _ in scope["headers"])
            and await self._answer(scope, send)
        ):
            return
        await self.app(scope, receive, send)

    async def _answer(self, scope: Any, send: Any) -> bool:
        path: str = scope["path"]
        if path.startswith("/blobs/"):
            match = _DIGEST.fullmatch(path)
            if match is None:
                return False
            digest = match.group(1)
            size = self._services.digests.get(digest)
            if size is None:
                return False
            headers = [*digest_headers(digest), _OCTETS, (b"content-length", str(size).encode())]
            return await self._send_file(scope, send, "blob", digest, size, headers)
        match = _NAMED.fullmatch(path)
        if match is None:
            return False
        namespace, name, version, part = match.groups()
        found = self._services.downloads.record((namespace, name, version, Part(part)))
        if found is None:
            return False
        headers = [
            (b"etag", b'"' + found.sha256.encode() + b'"'),
            (b"clawft-digest", b"sha256=" + found.sha256.encode()),
            (b"cache-control", IMMUTABLE),
            *([(b"clawft-yanked", b"true")] if found.yanked else []),
            (b"content-disposition", f'attachment; filename="{found.filename}"'.encode()),
            _OCTETS,
            (b"content-length", str(found.size).encode()),
        ]
        sent = await self._send_file(scope, send, part, found.sha256, found.size, headers)
        if sent and part == Part.COMPONENT:  # counted in memory, as the app's route does
            self._services.download_counts.add(namespace, name, version)
        return sent

    async def _send_file(
        self,
        scope: Any,
        send: Any,
        kind: str,
        digest: str,
        size: int,
        headers: list[tuple[bytes, bytes]],
    ) -> bool:
        cached = self._services.downloads.blob(digest)
        path = None if cached is not None else self._services.blobs.file_path(digest)
        if cached is None and path is None:
            return False
        headers.append((REQUEST_ID_HEADER.lower().encode(), _request_id(scope).encode()))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        if cached is not None:
            await send({"type": "http.response.body", "body": cached})
        else:
            await send({"type": "http.response.pathsend", "path": str(path)})
        DOWNLOADS.labels(kind=kind, status="200").inc()
        DOWNLOAD_BYTES.labels(kind=kind).inc(size)
        return True


def _request_id(scope: Any) -> str:
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            given = sane_request_id(value.decode("latin-1"))
            if given is not None:
                return given
    return uuid.uuid4().hex

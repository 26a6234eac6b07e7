"""``GET``/``HEAD /blobs/sha256/{hex}``: a file of a downloadable version, by its digest.

The same bytes the TUF targets and the named download route serve, at the address every
content-addressed store uses (OCI blobs, ``…/blobs/sha256/<hex>``). A digest is served only
when an approved or yanked version lists it as its component, manifest or bundle. Once it is,
it stays servable (versions are never deleted, and approved ⇄ yanked both download), so a
digest found is remembered for good, in a bounded map: after the first request, answering
costs no database work and no thread hop.

A raw ASGI handler (no injection, no response objects), answering with as little Python as
the deployment allows:

* ``CLAWFT_BLOB_ACCEL_PREFIX`` set (a front proxy such as nginx): an empty ``200`` with
  ``X-Accel-Redirect: <prefix><hex>``; the proxy sends the file, ranges included;
* an S3 store with presigned downloads: a ``302`` to a presigned URL;
* a file small enough for the download cache (1 MB: every plugin file within the upload
  limits): its bytes, kept in memory after the first request;
* a larger file in a local blob directory, under a server with the ASGI
  ``http.response.pathsend`` extension (granian): the server sends the file itself;
* otherwise the bytes, from the store.

Every answer carries ``ETag`` (the digest), ``Cache-Control: public, max-age=31536000,
immutable`` (a redirect: a minute, since the URL it names expires), ``Accept-Ranges``; and
honours ``If-None-Match`` (``304``), ``HEAD``, and one byte ``Range`` (``206``; ``416`` when it
starts past the end; several ranges, or an ``If-Range`` that does not name this blob, get the
whole file, as RFC 9110 allows).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any, cast

import msgspec
from litestar import asgi
from litestar.concurrency import sync_to_thread
from litestar.types import Receive, Scope, Send

from registry.domain.plugins.digests import DownloadableDigests
from registry.domain.plugins.downloads import etag_matches
from registry.errors import error_body
from registry.metrics import mark_download
from registry.services import RegistryServices, services_of

__all__ = ["BLOB_ROUTE", "IMMUTABLE", "blob_download", "byte_range", "digest_headers"]

BLOB_ROUTE = "/blobs/sha256"
"""Mounted: the rest of the path is the digest (a path parameter on a raw ASGI route is
not routed by Litestar 2)."""
_DIGEST = re.compile(r"[0-9a-f]{64}")
_RANGE = re.compile(r"bytes=(\d{0,18})-(\d{0,18})")
Emit = Callable[[dict[str, Any]], Awaitable[None]]
"""ASGI ``send``, untyped: Litestar's event types know no ``pathsend``."""
IMMUTABLE = b"public, max-age=31536000, immutable"
_REDIRECT_MAX_AGE = b"public, max-age=60"


def digest_headers(digest: str) -> list[tuple[bytes, bytes]]:
    """What every answer for a downloadable ``digest`` carries."""
    return [
        (b"etag", b'"' + digest.encode() + b'"'),
        (b"clawft-digest", b"sha256=" + digest.encode()),
        (b"cache-control", IMMUTABLE),
        (b"accept-ranges", b"bytes"),
    ]


def byte_range(header: str | None, size: int) -> tuple[int, int] | bool | None:
    """The one byte range ``header`` asks for, as (first, last) inclusive; ``None`` for the
    whole file (no header, several ranges, or one that does not parse); ``False`` when it
    cannot be satisfied (``416``)."""
    if not header:
        return None
    match = _RANGE.fullmatch(header.strip())
    if match is None:
        return None
    first_text, last_text = match.groups()
    if not first_text:
        if not last_text:
            return None
        suffix = int(last_text)
        if suffix == 0 or size == 0:
            return False
        return max(0, size - suffix), size - 1
    first = int(first_text)
    if last_text and int(last_text) < first:
        return None
    if first >= size:
        return False
    return first, min(int(last_text) if last_text else size - 1, size - 1)


@asgi(BLOB_ROUTE, is_mount=True, is_static=True, copy_scope=False, include_in_schema=False)
async def blob_download(scope: Scope, receive: Receive, send: Send) -> None:
    """A downloadable file by its sha256 (see the module)."""
    mark_download(scope, "blob")  # counted by registry.metrics.count_answers
    emit = cast("Emit", send)
    method = scope.get("method", "GET")
    if method not in ("GET", "HEAD"):
        allow = [(b"allow", b"GET, HEAD")]
        await _error(emit, 405, "method_not_allowed", "only GET and HEAD", allow)
        return
    digest = scope.get("path", "").removeprefix("/")
    if _DIGEST.fullmatch(digest) is None:
        await _error(emit, 404, "not_found", "not a sha256 digest: 64 lowercase hex digits")
        return
    services = services_of(scope["app"])
    digests: DownloadableDigests = services.digests
    size = digests.get(digest)
    if size is None:
        size = await sync_to_thread(DownloadableDigests.look_up, services.db, digest)
        if size is None:
            await _error(emit, 404, "not_found", "no approved plugin has a file with this digest")
            return
        digests.remember(digest, size)
    headers = _headers(scope)
    common = digest_headers(digest)
    if etag_matches(headers.get("if-none-match"), digest):
        await _start(emit, 304, common)
        await emit({"type": "http.response.body", "body": b""})
        return
    await _answer(scope, emit, services, digest, size, common, headers)


async def _answer(
    scope: Scope,
    send: Emit,
    services: RegistryServices,
    digest: str,
    size: int,
    common: list[tuple[bytes, bytes]],
    headers: dict[str, str],
) -> None:
    head = scope.get("method") == "HEAD"
    blobs = services.blobs
    accel = services.settings.blob_accel_prefix
    if accel:
        redirect = (b"x-accel-redirect", (accel + digest).encode())
        await _start(send, 200, [*common, redirect, (b"content-length", b"0")])
        await send({"type": "http.response.body", "body": b""})
        return
    if services.settings.presign_downloads:
        url = await sync_to_thread(blobs.presigned_url, digest)
        if url is not None:
            moved = [(k, _REDIRECT_MAX_AGE if k == b"cache-control" else v) for k, v in common]
            moved += [(b"location", url.encode()), (b"content-length", b"0")]
            await _start(send, 302, moved)
            await send({"type": "http.response.body", "body": b""})
            return
    wanted = byte_range(headers.get("range"), size)
    if_range = headers.get("if-range")
    if wanted is not None and if_range is not None and if_range.strip() != f'"{digest}"':
        wanted = None
    octets = (b"content-type", b"application/octet-stream")
    if wanted is False:
        unsatisfiable = [*common, (b"content-range", f"bytes */{size}".encode())]
        detail = f"the range starts past the end of the file ({size} bytes)"
        await _error(send, 416, "range_not_satisfiable", detail, unsatisfiable)
        return
    if isinstance(wanted, tuple):
        first, last = wanted
        length = last - first + 1
        await _start(
            send,
            206,
            [
                *common,
                octets,
                (b"content-range", f"bytes {first}-{last}/{size}".encode()),
                (b"content-length", str(length).encode()),
            ],
        )
        body = b"" if head else (await _whole(services, digest, size))[first : last + 1]
        await send({"type": "http.response.body", "body": body})
        return
    await _start(send, 200, [*common, octets, (b"content-length", str(size).encode())])
    if head:
        await send({"type": "http.response.body", "body": b""})
        return
    cached = services.downloads.blob(digest)
    large = size > services.downloads.max_blob_bytes  # small ones are kept in memory
    if cached is None and large and "http.response.pathsend" in (scope.get("extensions") or {}):
        path = blobs.file_path(digest)
        if path is not None:
            await send({"type": "http.response.pathsend", "path": str(path)})
            return
    await send(
        {"type": "http.response.body", "body": cached or await _whole(services, digest, size)}
    )


async def _whole(services: RegistryServices, digest: str, size: int) -> bytes:
    """The blob's bytes, from the download cache or the store (files of a version are at most
    the upload limits: a few hundred KB)."""
    data = services.downloads.blob(digest)
    if data is None:
        data = await sync_to_thread(services.blobs.get, digest, max_bytes=size)
        services.downloads.keep(digest, data)
    return data


def _headers(scope: Scope) -> dict[str, str]:
    wanted = (b"if-none-match", b"range", b"if-range")
    return {
        name.decode("latin-1"): value.decode("latin-1")[:4096]
        for name, value in scope.get("headers", [])
        if name in wanted
    }


async def _start(send: Emit, status: int, headers: list[tuple[bytes, bytes]]) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})


async def _error(
    send: Emit,
    status: int,
    code: str,
    detail: str,
    extra: list[tuple[bytes, bytes]] | None = None,
) -> None:
    """An error in the registry's one shape (``registry.errors``)."""
    text = msgspec.json.encode(error_body(code, detail))
    await _start(
        send,
        status,
        [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(text)).encode()),
            *(extra or []),
        ],
    )
    await send({"type": "http.response.body", "body": text})

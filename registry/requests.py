"""Reading request bodies: media types parsed, sizes and time bounded, JSON nesting bounded.

:class:`RegistryRequest` is the app's request class. Litestar decodes every ``data`` body of a
handler through :meth:`RegistryRequest.json`, which here checks the media type (JSON, in UTF-8)
and decodes with :func:`client.decoding.decode_json`, so a body nested thirty thousand deep is a
400 like any other malformed JSON. :func:`read_body` reads a raw body within a time bound, so a
client that sends it slowly holds a connection for a bounded time only.
"""

from __future__ import annotations

import asyncio
from typing import Any

from litestar import Request
from litestar.exceptions import ClientException

from client.decoding import Undecodable, decode_json
from registry.errors import InvalidRequest, PayloadTooLarge, RequestTimeout, UnsupportedMediaType
from registry.media import MediaType, MediaTypeInvalid, parse_media_type
from registry.services import services_of

_UTF8 = frozenset({"utf-8", "utf8"})


def media_type_of(request: Request[Any, Any, Any]) -> MediaType:
    try:
        return parse_media_type(request.headers.get("content-type"))
    except MediaTypeInvalid as exc:
        raise UnsupportedMediaType(str(exc)) from None


class RegistryRequest(Request[Any, Any, Any]):
    """Litestar's request, with JSON bodies read strictly."""

    async def json(self) -> Any:
        media = media_type_of(self)
        if not media.is_json:
            raise UnsupportedMediaType(f"send this body as application/json, not {media.type}")
        if media.parameters.get("charset", "utf-8").lower() not in _UTF8:
            raise UnsupportedMediaType("send JSON in UTF-8")
        body = await read_body(
            self, timeout_s=services_of(self.app).settings.http.json_body_timeout_s
        )
        try:
            return decode_json(body or b"null", what="the request body")
        except Undecodable as exc:
            raise InvalidRequest(str(exc)) from None


async def read_body(request: Request[Any, Any, Any], *, timeout_s: float) -> bytes:
    """The whole body (within the app's or the handler's size limit), read in ``timeout_s``."""
    try:
        return await asyncio.wait_for(request.body(), timeout=timeout_s)
    except TimeoutError:
        raise RequestTimeout(
            f"the request body did not arrive within {timeout_s:g} s; send it faster"
        ) from None
    except ClientException as exc:
        if exc.status_code == 413:
            raise PayloadTooLarge(f"the request body is too large: {exc.detail}") from None
        raise InvalidRequest(f"the request body could not be read: {exc.detail}") from None

"""Serving the registry over HTTP: uvicorn, with a bound on every way a client can hold a
connection open.

* **Slow or absent headers** (slowloris): from the moment a connection opens, and again from the
  end of each response, a client has ``header_timeout_s`` to send a request's headers in full;
  otherwise the connection is closed. uvicorn has no such bound of its own: a client that sent
  nothing, or a header line a minute, held its connection (and a file descriptor) for ever.
* **Slow bodies**: the handlers read bodies within a time bound and answer 408
  (:func:`registry.requests.read_body`).
* **Idle keep-alive connections**: closed ``keep_alive_s`` after the last response.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol


@dataclass(frozen=True, slots=True)
class HttpTimeouts:
    """How long a client may take (``CLAWFT_HTTP_*``)."""

    header_timeout_s: float = 10.0
    """To send a request's headers, from the connection's start or the previous response
    (``CLAWFT_HTTP_HEADER_TIMEOUT_S``)."""
    keep_alive_s: float = 5.0
    """An idle keep-alive connection is closed after this long (``CLAWFT_HTTP_KEEP_ALIVE_S``)."""
    upload_body_timeout_s: float = 60.0
    """A publish body must arrive within this time, at least 24 KB/s for the largest upload
    (``CLAWFT_HTTP_UPLOAD_BODY_TIMEOUT_S``); a slower client is answered 408."""
    json_body_timeout_s: float = 10.0
    """A JSON body (tokens, yank) must arrive within this time
    (``CLAWFT_HTTP_JSON_BODY_TIMEOUT_S``)."""


class HeaderDeadlineProtocol(H11Protocol):
    """uvicorn's HTTP/1.1 protocol with a deadline for each request's headers."""

    header_timeout_s = 10.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._header_timer: asyncio.TimerHandle | None = None
        self._arm_header_timer()

    def _arm_header_timer(self) -> None:
        self._cancel_header_timer()
        self._header_timer = self.loop.call_later(self.header_timeout_s, self._headers_too_slow)

    def _cancel_header_timer(self) -> None:
        timer = getattr(self, "_header_timer", None)
        if timer is not None:
            timer.cancel()
            self._header_timer = None

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.transport.close()

    def handle_events(self) -> None:
        super().handle_events()
        if self.conn.their_state is not h11.IDLE:  # a request's headers are in
            self._cancel_header_timer()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm_header_timer()  # the next request's headers, on a kept-alive connection

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_timer()
        super().connection_lost(exc)


def uvicorn_config(app: Any, *, host: str, port: int, timeouts: HttpTimeouts) -> uvicorn.Config:
    """A uvicorn configuration for ``app`` with ``timeouts`` applied."""
    protocol = type(
        "RegistryHttpProtocol",
        (HeaderDeadlineProtocol,),
        {"header_timeout_s": timeouts.header_timeout_s},
    )
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http=protocol,
        timeout_keep_alive=max(1, round(timeouts.keep_alive_s)),
        log_level="info",
    )

"""HTTP front of the authority, on the standard library, bound to a loopback address only.

Speaks the parts of Fulcio v2 and Rekor v1 that sigstore-python's signer uses. Every refusal
is a 4xx with a JSON body ``{"code": <status>, "message": <reason>}`` (the shape Fulcio's and
Rekor's clients read); a 5xx means a bug in the authority, never a bad request.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import re
import threading
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from infra.sigstore_authority.authority import SigningAuthority
from infra.sigstore_authority.errors import (
    AuthorityError,
    LengthRequired,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    UnsupportedMediaType,
)

_logger = logging.getLogger(__name__)

_DECIMAL = re.compile(r"[0-9]{1,18}")  # ASCII digits only, and small enough for SQLite

_Reply = tuple[HTTPStatus, dict[str, Any]]
_Endpoint = Callable[["_AuthorityRequestHandler"], _Reply]


def _require_loopback(host: str) -> str:
    if host == "localhost":
        return "127.0.0.1"
    try:
        address = ipaddress.IPv4Address(host)
    except ValueError as exc:
        raise ValueError(f"{host!r} is not an IPv4 address; use 127.0.0.1") from exc
    if not address.is_loopback:
        raise ValueError(
            f"refusing to listen on {host}: the development authority mints identity tokens "
            "for anyone who asks, so it only binds loopback addresses (127.0.0.0/8)"
        )
    return host


class _AuthorityRequestHandler(BaseHTTPRequestHandler):
    server: _AuthorityHTTPServer
    server_version = "clawft-dev-authority"

    def version_string(self) -> str:
        return self.server_version

    # -- plumbing ----------------------------------------------------------------------------

    def log_message(self, format: str, *args: Any) -> None:
        _logger.info("%s %s", self.address_string(), format % args)

    def parse_request(self) -> bool:
        if not super().parse_request():
            return False
        if self.request_version == "HTTP/0.9":
            self.send_error(HTTPStatus.BAD_REQUEST, "HTTP/0.9 requests are not supported")
            return False
        return True

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        # The standard library answers an unknown method with 501 and an unknown HTTP version
        # with 505: both are the client's fault here, so they become 405 and 400.
        status = {501: HTTPStatus.METHOD_NOT_ALLOWED, 505: HTTPStatus.BAD_REQUEST}.get(
            code, HTTPStatus(code)
        )
        self.close_connection = True
        if self.request_version == "HTTP/0.9":  # an unparseable request line: answer in 1.0
            self.request_version = "HTTP/1.0"
        self._send_json(status, {"code": status.value, "message": message or status.phrase})

    def _send_json(self, status: HTTPStatus, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def read_json(self) -> dict[str, Any]:
        """The request body as a JSON object, within the configured size bound."""
        limit = self.server.authority.config.max_request_bytes
        media_type = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if media_type != "application/json":
            raise UnsupportedMediaType("send the request body as Content-Type: application/json")
        if self.headers.get("Transfer-Encoding"):
            raise LengthRequired("chunked bodies are not accepted; send Content-Length")
        raw_length = self.headers.get("Content-Length")
        if raw_length is None:
            raise LengthRequired("Content-Length is required")
        if not _DECIMAL.fullmatch(raw_length.strip()):
            raise AuthorityError("Content-Length must be a non-negative integer")
        length = int(raw_length)
        if length > limit:
            raise PayloadTooLarge(f"request body is {length} bytes; the limit is {limit}")
        body = self.rfile.read(length)
        if len(body) != length:
            raise AuthorityError("request body is shorter than its Content-Length")
        try:
            data = json.loads(body)
        except (ValueError, RecursionError) as exc:
            raise AuthorityError("request body is not valid JSON") from exc
        if not isinstance(data, dict):
            raise AuthorityError("request body must be a JSON object")
        return data

    def _dispatch(self, method: str) -> None:
        path = urlsplit(self.path).path
        try:
            endpoints = _ROUTES.get(path)
            if endpoints is None:
                raise NotFound(f"no endpoint at {path}")
            endpoint = endpoints.get(method)
            if endpoint is None:
                raise MethodNotAllowed(f"{path} accepts {', '.join(sorted(endpoints))}")
            status, body = endpoint(self)
        except AuthorityError as exc:
            if exc.status in (HTTPStatus.REQUEST_ENTITY_TOO_LARGE, HTTPStatus.LENGTH_REQUIRED):
                self.close_connection = True  # the unread body must not become the next request
            self._send_json(exc.status, {"code": exc.status.value, "message": str(exc)})
        except (TimeoutError, ConnectionError):
            self.close_connection = True
        except Exception:
            _logger.exception("authority failed on %s %s", method, path)
            self.close_connection = True
            status = HTTPStatus.INTERNAL_SERVER_ERROR
            self._send_json(status, {"code": status.value, "message": "internal error"})
        else:
            self._send_json(status, body)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def do_OPTIONS(self) -> None:
        self._dispatch("OPTIONS")


# -- endpoints -------------------------------------------------------------------------------


def _signing_cert(request: _AuthorityRequestHandler) -> _Reply:
    body = request.read_json()
    authority = request.server.authority
    return HTTPStatus.CREATED, authority.issue_certificate(
        body, request.headers.get("Authorization")
    )


def _trust_bundle(request: _AuthorityRequestHandler) -> _Reply:
    return HTTPStatus.OK, request.server.authority.trust_bundle()


def _create_entry(request: _AuthorityRequestHandler) -> _Reply:
    return HTTPStatus.CREATED, request.server.authority.create_log_entry(request.read_json())


def _get_entry(request: _AuthorityRequestHandler) -> _Reply:
    values = parse_qs(urlsplit(request.path).query).get("logIndex", [])
    if len(values) != 1 or not _DECIMAL.fullmatch(values[0]):
        raise AuthorityError("pass exactly one logIndex=<non-negative integer>")
    entry = request.server.authority.log.entry(int(values[0]))
    if entry is None:
        raise NotFound(f"no entry at log index {values[0]}")
    return HTTPStatus.OK, entry


def _log_info(request: _AuthorityRequestHandler) -> _Reply:
    return HTTPStatus.OK, request.server.authority.log.info()


def _mint_token(request: _AuthorityRequestHandler) -> _Reply:
    return HTTPStatus.CREATED, request.server.authority.mint_token(request.read_json())


def _trust_config(request: _AuthorityRequestHandler) -> _Reply:
    return HTTPStatus.OK, request.server.authority.trust_config(request.server.url)


_ROUTES: dict[str, dict[str, _Endpoint]] = {
    "/api/v2/signingCert": {"POST": _signing_cert},
    "/api/v2/trustBundle": {"GET": _trust_bundle},
    "/api/v1/log": {"GET": _log_info},
    "/api/v1/log/entries": {"POST": _create_entry, "GET": _get_entry},
    "/dev/v1/token": {"POST": _mint_token},
    "/dev/v1/trust-config": {"GET": _trust_config},
}


class _AuthorityHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], authority: SigningAuthority) -> None:
        self.authority = authority
        self.url = ""
        handler = type(
            "_BoundedRequestHandler",
            (_AuthorityRequestHandler,),
            {"timeout": authority.config.request_timeout_s},
        )
        super().__init__(address, handler)


class AuthorityServer:
    """Serves a ``SigningAuthority`` over HTTP on a loopback address.

    ``port=0`` picks a free port; ``url`` tells which. Use as a context manager, or call
    ``start()`` (background thread) / ``serve_forever()`` (this thread) and ``stop()``.
    """

    def __init__(
        self, authority: SigningAuthority, *, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        host = _require_loopback(host)
        self.authority = authority
        self._httpd = _AuthorityHTTPServer((host, port), authority)
        bound_host, bound_port = self._httpd.server_address[:2]
        self.url = f"http://{bound_host!s}:{bound_port}"
        self._httpd.url = self.url
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    def trust_config(self) -> dict[str, Any]:
        """The ``ClientTrustConfig`` pointing at this server."""
        return self.authority.trust_config(self.url)

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="clawft-dev-authority",
            daemon=True,
        )
        self._thread.start()

    def serve_forever(self) -> None:
        self._httpd.serve_forever()

    def stop(self) -> None:
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join()
            self._thread = None
        self._httpd.server_close()

    def __enter__(self) -> AuthorityServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

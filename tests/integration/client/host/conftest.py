"""A real HTTP server on 127.0.0.1 for the http-request tests, and plugin-loading helpers."""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

MB = 1024 * 1024


@dataclass
class LocalServer:
    """A loopback HTTP server that records every request it receives."""

    port: int
    hits: list[str] = field(default_factory=list)

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"


def _handler(server: LocalServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            return

        def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            server.hits.append(self.path)
            url = urlsplit(self.path)
            query = parse_qs(url.query)
            if url.path == "/hello":
                self._send(200, b"hi from the loopback server", {"Content-Type": "text/plain"})
            elif url.path == "/headers":
                self._send(200, str(dict(self.headers)).encode())
            elif url.path == "/big":
                self._send(200, b"x" * (5 * MB))
            elif url.path == "/slow":
                time.sleep(3)
                self._send(200, b"late")
            elif url.path == "/redirect":
                self._send(302, b"", {"Location": query["to"][0]})
            elif url.path == "/gzip-bomb":
                body = gzip.compress(b"\0" * (64 * MB), compresslevel=9)
                self._send(200, body, {"Content-Encoding": "gzip"})
            elif url.path == "/missing":
                self._send(404, b"no such thing")
            elif url.path == "/charset":
                # A body in the charset the query names: `name` goes into Content-Type as is.
                body = {"latin": b"caf\xe9", "bulk": b"a" * (4 * MB - 16)}[query["body"][0]]
                content_type = f"text/plain; charset={query['name'][0]}"
                self._send(200, body, {"Content-Type": content_type})
            else:
                self._send(200, b"ok")

        def do_POST(self) -> None:
            server.hits.append(self.path)
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            self._send(200, b"got " + body)

    return Handler


@pytest.fixture
def local_server() -> Iterator[LocalServer]:
    record = LocalServer(port=0)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(record))
    httpd.daemon_threads = True
    record.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield record
    finally:
        httpd.shutdown()
        httpd.server_close()

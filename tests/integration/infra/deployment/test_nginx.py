"""infra/nginx/nginx.conf: ``nginx -t`` accepts it, and nginx, run with it on 127.0.0.1 in
front of a stand-in registry and a stand-in MinIO, serves by-digest downloads from the bucket
after the registry's ``X-Accel-Redirect``: digest ETag, long-lived cache headers, ranges, and
nothing of the client's (its token) or of the store's own headers crossing over."""

from __future__ import annotations

import hashlib
import http.client
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.integration.infra.deployment.conftest import NGINX_CONF, tool

BLOB = bytes(range(256)) * 20
DIGEST = hashlib.sha256(BLOB).hexdigest()
MISSING = "0" * 64
BUCKET_PATH = "/clawft-blobs/blobs/sha256/"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def proxy_config(prefix: Path, registry: int, store: int, listen: int) -> Path:
    """The proxy config with the compose hostnames replaced by loopback addresses, listening
    on 127.0.0.1 only, its temporary files under ``prefix``."""
    text = NGINX_CONF.read_text(encoding="utf-8")
    for old, new in (
        ("set $registry registry:8750;", f"set $registry 127.0.0.1:{registry};"),
        ("set $blob_store minio:9000;", f"set $blob_store 127.0.0.1:{store};"),
        ("listen 8080;", f"listen 127.0.0.1:{listen};"),
        ("http {", "http {\n" + "".join(
            f"    {kind}_temp_path {prefix / kind};\n"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )),
    ):  # fmt: skip
        assert old in text, f"{old!r} is no longer in {NGINX_CONF.name}: update this test"
        text = text.replace(old, new, 1)
    assert "0.0.0.0" not in text and "listen 8080" not in text
    path = prefix / "nginx.conf"
    path.write_text(text, encoding="utf-8")
    return path


def nginx_args(prefix: Path, config: Path) -> list[str]:
    return [
        tool("nginx", "nginx-light"), "-p", str(prefix), "-c", str(config),
        "-e", str(prefix / "error.log"), "-g", f"pid {prefix / 'nginx.pid'};",
    ]  # fmt: skip


@pytest.fixture
def prefix() -> Iterator[Path]:
    # Not under pytest's 0700 tmp directory: nginx's workers (another user, when the tests run
    # as root) keep request bodies in these temporary directories.
    directory = Path(tempfile.mkdtemp(prefix="clawft-nginx-"))
    directory.chmod(0o755)
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


def test_nginx_accepts_the_proxy_config(prefix: Path) -> None:
    config = proxy_config(prefix, _free_port(), _free_port(), _free_port())
    result = subprocess.run(
        [*nginx_args(prefix, config), "-t"], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stderr
    broken = prefix / "broken.conf"
    broken.write_text(config.read_text().replace("internal;", "internal", 1))
    refused = subprocess.run(
        [*nginx_args(prefix, broken), "-t"], capture_output=True, text=True, timeout=30
    )
    assert refused.returncode != 0, "nginx -t accepted a broken config: it checks nothing"


@dataclass
class Seen:
    """What the stand-ins were asked."""

    registry: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    store: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)


def _serve(handler: type[BaseHTTPRequestHandler]) -> tuple[ThreadingHTTPServer, int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, server.server_address[1]


def _stand_ins(seen: Seen) -> tuple[type[BaseHTTPRequestHandler], type[BaseHTTPRequestHandler]]:
    class Registry(BaseHTTPRequestHandler):
        """The registry as CLAWFT_BLOB_ACCEL_PREFIX=/_blobs/ makes it answer."""

        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            seen.registry.append((self.command, self.path, dict(self.headers)))
            if self.path.startswith("/blobs/sha256/"):
                self.send_response(200)
                self.send_header("X-Accel-Redirect", "/_blobs/" + self.path.rsplit("/", 1)[1])
                self.send_header("ETag", f'"{DIGEST}"')
                self.send_header("Cache-Control", "public, max-age=31536000, immutable")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            body = b'{"status": "ok"}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_HEAD = do_GET

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            seen.registry.append((self.command, self.path, {"length": str(length)}))
            self.rfile.read(length)
            self.send_response(201)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    class Store(BaseHTTPRequestHandler):
        """MinIO with anonymous reads of blobs/: its headers, its ETag (an MD5), ranges."""

        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            seen.store.append((self.command, self.path, dict(self.headers)))
            if self.path != BUCKET_PATH + DIGEST or "Authorization" in self.headers:
                self._send(403, b"<Error><Code>AccessDenied</Code></Error>", {})
                return
            headers = {
                "ETag": f'"{hashlib.md5(BLOB).hexdigest()}"',  # noqa: S324 - what S3 sends
                "X-Amz-Request-Id": "17E4C1A2",
                "Server": "MinIO",
                "Accept-Ranges": "bytes",
                "Content-Type": "application/octet-stream",
            }
            wanted = self.headers.get("Range", "")
            if wanted.startswith("bytes="):
                first, last = (int(x) for x in wanted.removeprefix("bytes=").split("-"))
                headers["Content-Range"] = f"bytes {first}-{last}/{len(BLOB)}"
                self._send(206, BLOB[first : last + 1], headers)
                return
            self._send(200, BLOB, headers)

        do_HEAD = do_GET

        def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Registry, Store


@dataclass
class Proxy:
    port: int
    seen: Seen

    def request(
        self, method: str, path: str, headers: dict[str, str] | None = None, body: bytes = b""
    ) -> tuple[int, dict[str, list[str]], bytes]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            connection.request(method, path, body=body or None, headers=headers or {})
            response = connection.getresponse()
            answer: dict[str, list[str]] = {}
            for name, value in response.getheaders():
                answer.setdefault(name.lower(), []).append(value)
            return response.status, answer, response.read()
        finally:
            connection.close()


@pytest.fixture
def proxy(prefix: Path) -> Iterator[Proxy]:
    seen = Seen()
    registry_handler, store_handler = _stand_ins(seen)
    registry, registry_port = _serve(registry_handler)
    store, store_port = _serve(store_handler)
    port = _free_port()
    config = proxy_config(prefix, registry_port, store_port, port)
    process = subprocess.Popen(
        [*nginx_args(prefix, config), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    log = prefix / "error.log"
                    pytest.fail(f"nginx did not start: {log.read_text() if log.exists() else ''}")
                time.sleep(0.05)
        yield Proxy(port, seen)
    finally:
        process.terminate()
        process.wait(timeout=10)
        registry.shutdown()
        store.shutdown()


def test_by_digest_downloads_come_from_the_bucket(proxy: Proxy) -> None:
    status, headers, body = proxy.request(
        "GET", f"/blobs/sha256/{DIGEST}", {"Authorization": "Bearer secret-token"}
    )
    assert status == 200 and body == BLOB
    assert headers["etag"] == [f'"{DIGEST}"']
    assert headers["cache-control"] == ["public, max-age=31536000, immutable"]
    assert "x-amz-request-id" not in headers and headers["server"] == ["nginx"]
    (method, path, sent) = proxy.seen.store[-1]
    assert (method, path) == ("GET", BUCKET_PATH + DIGEST)
    assert "Authorization" not in sent and "Range" not in sent


def test_ranges_and_head_reach_the_bucket(proxy: Proxy) -> None:
    status, headers, body = proxy.request(
        "GET", f"/blobs/sha256/{DIGEST}", {"Range": "bytes=10-19", "If-Range": f'"{DIGEST}"'}
    )
    assert (status, body) == (206, BLOB[10:20])
    assert headers["content-range"] == [f"bytes 10-19/{len(BLOB)}"]
    # An If-Range naming something else: the whole file (RFC 9110), as the registry answers.
    status, _, body = proxy.request(
        "GET", f"/blobs/sha256/{DIGEST}", {"Range": "bytes=10-19", "If-Range": '"other"'}
    )
    assert (status, body) == (200, BLOB)
    status, headers, body = proxy.request("HEAD", f"/blobs/sha256/{DIGEST}")
    assert (status, body) == (200, b"")
    assert headers["content-length"] == [str(len(BLOB))]


def test_the_blob_location_is_internal(proxy: Proxy) -> None:
    status, headers, _ = proxy.request("GET", f"/_blobs/{DIGEST}")
    assert status == 404 and headers["cache-control"] == ["no-store"]
    assert not proxy.seen.store


def test_a_store_that_lacks_a_vouched_blob_is_a_502(proxy: Proxy) -> None:
    status, headers, body = proxy.request("GET", f"/blobs/sha256/{MISSING}")
    assert status == 502 and b"blob_store_unavailable" in body
    assert "no-store" in headers["cache-control"]


def test_everything_else_goes_to_the_registry(proxy: Proxy) -> None:
    status, _, body = proxy.request("GET", "/readyz")
    assert (status, body) == (200, b'{"status": "ok"}')
    method, path, sent = proxy.seen.registry[-1]
    assert (method, path) == ("GET", "/readyz")
    assert sent.get("X-Forwarded-For") == "127.0.0.1" and sent.get("X-Request-Id")
    upload = os.urandom(1_500_000)  # the largest publish body is ~1.4 MiB
    status, _, _ = proxy.request("POST", "/api/v1/plugins", body=upload)
    assert status == 201 and proxy.seen.registry[-1][2] == {"length": str(len(upload))}
    status, _, _ = proxy.request("POST", "/api/v1/plugins", body=b"x" * (3 * 1024 * 1024))
    assert status == 413
    status, _, _ = proxy.request("GET", "/metrics")
    assert status == 404

"""``serve``'s download fast path (:mod:`registry.fastpath`) against the app it stands in front
of: what it answers is byte for byte what the app answers (but for the request id), and what it
must not answer — anything not already proven downloadable, every request that is not a plain
``GET`` — reaches the app untouched.

The app runs over real HTTP (the registry harness); the fast path is called as granian calls it,
with an ASGI scope that offers ``http.response.pathsend``."""

from __future__ import annotations

import asyncio
import hashlib
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from registry.fastpath import TALLY_DELAY_S, DownloadFastPath
from tests.conftest import RunningAuthority
from tests.integration.registry.harness import Registry, approved_hello
from tests.integration.registry.test_observability import scrape, value

pytestmark = [
    pytest.mark.network,
    pytest.mark.parametrize("registry", ["embedded"], indirect=True),
]

NAMED = "/api/v1/plugins/clawft/hello/versions/0.1.0/{part}"
_SERVER_HEADERS = {"date", "server", "x-request-id"}


class App:
    """The app behind the fast path: records what reached it."""

    def __init__(self) -> None:
        self.paths: list[str] = []

    async def __call__(self, scope: Any, _receive: Any, _send: Any) -> None:
        self.paths.append(scope["path"])


def scope_of(
    path: str,
    *,
    method: str = "GET",
    headers: list[tuple[bytes, bytes]] | None = None,
    pathsend: bool = True,
) -> dict[str, Any]:
    return {
        "type": "http",
        "method": method,
        "path": path,
        "headers": [(b"host", b"registry.test"), *(headers or [])],
        "extensions": {"http.response.pathsend": {}} if pathsend else {},
    }


def call(fast: DownloadFastPath, scope: dict[str, Any]) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def run() -> None:
        await fast(scope, None, send)

    asyncio.run(run())
    return sent


def answered(sent: list[dict[str, Any]]) -> tuple[int, dict[str, str], bytes]:
    """(status, headers, body) of what the fast path sent; a ``pathsend`` body is read."""
    start, body = sent
    headers = {k.decode(): v.decode() for k, v in start["headers"]}
    data = body["body"] if body["type"] == "http.response.body" else Path(body["path"]).read_bytes()
    return start["status"], headers, data


def from_app(answer: httpx.Response) -> dict[str, str]:
    return {k: v for k, v in answer.headers.items() if k not in _SERVER_HEADERS}


@pytest.fixture
def hello(
    registry: Registry, built: dict[str, Path], dev_authority: RunningAuthority, tmp_path: Path
) -> dict[str, bytes]:
    """The files of an approved ``clawft/hello`` 0.1.0, by part."""
    return approved_hello(registry, built, dev_authority, tmp_path / "src")


def test_the_fast_answer_is_the_apps_answer(registry: Registry, hello: dict[str, bytes]) -> None:
    app = App()
    fast = DownloadFastPath(app, registry.services)
    paths = [NAMED.format(part=part) for part in hello] + [
        f"/blobs/sha256/{hashlib.sha256(data).hexdigest()}" for data in hello.values()
    ]
    with httpx.Client(base_url=registry.url) as http:
        for path in paths:
            assert call(fast, scope_of(path)) == [], "unknown until the app has answered once"
            assert app.paths.pop() == path
            slow = http.get(path)  # the app answers, and fills the caches
            assert slow.status_code == 200, slow.text
            for _ in range(2):  # built, then reused
                status, headers, body = answered(call(fast, scope_of(path)))
                assert (status, body) == (200, slow.content), path
                assert {k: v for k, v in headers.items() if k != "x-request-id"} == from_app(slow)
            assert app.paths == []


def test_only_a_plain_get_of_a_known_file_is_answered(
    registry: Registry, hello: dict[str, bytes]
) -> None:
    app = App()
    fast = DownloadFastPath(app, registry.services)
    digest = hashlib.sha256(hello["component"]).hexdigest()
    known = f"/blobs/sha256/{digest}"
    with httpx.Client(base_url=registry.url) as http:
        for path in (known, NAMED.format(part="component")):
            assert http.get(path).status_code == 200
            assert len(call(fast, scope_of(path))) == 2
    declined = [
        # Not a plain GET: the app answers HEAD, conditionals and ranges.
        scope_of(known, method="HEAD"),
        scope_of(known, method="POST"),
        scope_of(known, headers=[(b"range", b"bytes=0-1")]),
        scope_of(known, headers=[(b"if-none-match", f'"{digest}"'.encode())]),
        scope_of(known, headers=[(b"x-request-id", b"id"), (b"if-range", b'"x"')]),
        scope_of(known, headers=[(b"if-match", b"*")]),
        scope_of(known, pathsend=False),
        {**scope_of(known), "type": "websocket"},
        # The same digest at another address, or beside it.
        scope_of(f"/blobs/sha512/{digest}"),
        scope_of(f"/blobs/SHA256/{digest}"),
        scope_of(f"/blobs/sha256/{digest.upper()}"),
        scope_of(f"/blobs/sha256/{digest}/"),
        scope_of(f"/blobs/sha256/{digest}\n"),
        scope_of(f"/blobs/sha256//{digest}"),
        scope_of(f"/blobs/sha256/../sha256/{digest}"),
        scope_of(f"/api/blobs/sha256/{digest}"),
        scope_of(f"/blobs/sha256/{digest[:-1]}"),
        scope_of("/blobs/sha256/" + "0" * 64),
        scope_of("/blobs/sha256/" + "é" * 64),
        # A named file of another version, part or plugin, or a near miss of the route.
        scope_of(NAMED.format(part="component").replace("0.1.0", "0.1.1")),
        scope_of(NAMED.format(part="component").replace("hello", "hellO")),
        scope_of(NAMED.format(part="component") + "/"),
        scope_of(NAMED.format(part="wasm")),
        scope_of(NAMED.format(part="component").replace("/api/v1", "/api/v2")),
    ]
    for scope in declined:
        assert call(fast, scope) == [], scope
        assert app.paths.pop() == scope["path"], scope


def test_request_ids(registry: Registry, hello: dict[str, bytes]) -> None:
    """A sane request id from the client is echoed; anything else is replaced by a fresh one,
    never repeated, in the app's own format (32 hex digits)."""
    fast = DownloadFastPath(App(), registry.services)
    path = f"/blobs/sha256/{hashlib.sha256(hello['manifest']).hexdigest()}"
    assert httpx.get(registry.url + path).status_code == 200

    def request_id(given: bytes | None) -> str:
        headers = [] if given is None else [(b"x-request-id", given)]
        return answered(call(fast, scope_of(path, headers=headers)))[1]["x-request-id"]

    assert request_id(b"deploy-42.a_b") == "deploy-42.a_b"
    twice = [(b"x-request-id", b"first"), (b"x-request-id", b"second")]
    assert answered(call(fast, scope_of(path, headers=twice)))[1]["x-request-id"] == "first"
    fresh = {request_id(None) for _ in range(1000)}
    for hostile in (
        b"",
        b"x" * 65,
        b"a\r\nX-Injected: 1",
        "\u202eevil".encode(),
        b"\xff\xfe",
        b"id with spaces",
        b"<script>",
    ):
        fresh.add(request_id(hostile))
    assert len(fresh) == 1007
    assert all(re.fullmatch(r"[0-9a-f]{32}", value) for value in fresh)


def test_fast_answers_reach_the_metrics_within_the_tally_delay(
    registry: Registry, hello: dict[str, bytes]
) -> None:
    fast = DownloadFastPath(App(), registry.services)
    path = NAMED.format(part="bundle")
    size = len(hello["bundle"])
    assert httpx.get(registry.url + path).status_code == 200

    def counted() -> tuple[float, float]:
        series = scrape(registry)
        return (
            value(series, "clawft_downloads_total", kind="bundle", status="200"),
            value(series, "clawft_download_bytes_total", kind="bundle"),
        )

    before = counted()

    async def download_then_wait() -> None:
        async def send(_message: dict[str, Any]) -> None:
            pass

        for _ in range(5):
            await fast(scope_of(path), None, send)
        await asyncio.sleep(TALLY_DELAY_S + 0.2)  # the loop stays up: the tally is flushed

    asyncio.run(download_then_wait())
    assert counted() == (before[0] + 5, before[1] + 5 * size)
    # Counts left when their loop ended are passed on by the next answer, on a new loop.
    for _ in range(3):
        call(fast, scope_of(path))
    assert counted() == (before[0] + 7, before[1] + 7 * size)


def test_a_stopping_worker_passes_on_what_it_tallied(
    registry: Registry, hello: dict[str, bytes]
) -> None:
    """At the end of the app's lifespan (granian stopping a worker), the counts not yet
    passed on reach the metrics, however recent."""
    path = NAMED.format(part="manifest")
    size = len(hello["manifest"])
    assert httpx.get(registry.url + path).status_code == 200

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "lifespan":
            raise AssertionError("the fast path should have answered")
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})

    fast = DownloadFastPath(app, registry.services)

    def counted() -> tuple[float, float]:
        series = scrape(registry)
        return (
            value(series, "clawft_downloads_total", kind="manifest", status="200"),
            value(series, "clawft_download_bytes_total", kind="manifest"),
        )

    before = counted()

    async def serve_then_stop() -> list[str]:
        events: asyncio.Queue[dict[str, str]] = asyncio.Queue()
        sent: list[str] = []

        async def send(message: dict[str, Any]) -> None:
            sent.append(message["type"])

        lifespan = asyncio.create_task(fast({"type": "lifespan"}, events.get, send))
        await events.put({"type": "lifespan.startup"})
        for _ in range(3):
            await fast(scope_of(path), None, send)
        await events.put({"type": "lifespan.shutdown"})
        await lifespan
        return sent

    sent = asyncio.run(serve_then_stop())
    lifespan = [event for event in sent if event.startswith("lifespan.")]
    assert lifespan == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert sent.count("http.response.start") == 3
    assert counted() == (before[0] + 3, before[1] + 3 * size)

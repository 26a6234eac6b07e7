"""The marketplace pages over HTTP (httpx against a live embedded registry): what each page
says, its caching and security headers, escaping of hostile content, refusals, and that a page
costs no more database queries than the JSON API calls for the same data."""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
import sqlalchemy as sa

from registry.db.models import DownloadCount
from registry.domain.plugins.download_counts import DownloadCounts
from registry.fastpath import DownloadFastPath
from registry.web.responses import CONTENT_SECURITY_POLICY
from tests.conftest import ALICE
from tests.integration.web.conftest import HOSTILE_HTML, YANK_REASON, Marketplace

PAGES = [
    "/",
    "/search",
    "/search?q=hello",
    "/search?q=weather&permission=no-network",
    "/plugins/clawft/hello",
    "/plugins/clawft/hello/0.1.1",
    "/plugins/clawft/loop/0.1.0",
    "/plugins/clawft/hostile",
    "/plugins/clawft/hostile/0.2.0",
    "/namespaces/clawft",
]
MISSING = [
    "/plugins/clawft/nothing",
    "/plugins/nobody/hello",
    "/plugins/clawft/hello/9.9.9",
    "/namespaces/nobody",
]


@pytest.fixture
def http(marketplace: Marketplace) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=marketplace.url, timeout=30) as client:
        yield client


@pytest.fixture
def counts_held(marketplace: Marketplace) -> Iterator[DownloadCounts]:
    """The registry's download counts with their periodic flush stopped (flushed first), so a
    test decides when counts reach the database."""
    counts = marketplace.registry.services.download_counts
    counts.stop()
    try:
        yield counts
    finally:
        counts.start()


@contextmanager
def statements(marketplace: Marketplace) -> Iterator[list[str]]:
    """Every SQL statement the registry's engine runs inside the block."""
    seen: list[str] = []
    engine = marketplace.registry.services.db.engine

    def count(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        seen.append(statement)

    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)


def assert_secure(response: httpx.Response) -> None:
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "same-origin"
    assert response.headers["content-type"].startswith("text/html")


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


@pytest.mark.parametrize("path", PAGES)
def test_every_page_is_html_with_security_and_caching_headers(
    http: httpx.Client, path: str
) -> None:
    response = http.get(path)
    assert response.status_code == 200, response.text[:500]
    assert_secure(response)
    assert response.headers["cache-control"] == "public, max-age=30"
    assert re.fullmatch(r'"[0-9a-f]{32}"', response.headers["etag"])
    html = response.text
    assert html.count("<h1") == 1
    assert re.search(r"<title>[^<]+ · clawft plugin registry</title>", html)
    assert " style=" not in html and "<style" not in html.replace("&lt;style", "")
    assert re.findall(r"<script[^>]*>", html) == [
        f'<script src="{m}" defer>' for m in re.findall(r'<script src="([^"]+)" defer>', html)
    ]
    revalidated = http.get(path, headers={"If-None-Match": response.headers["etag"]})
    assert revalidated.status_code == 304 and revalidated.content == b""
    assert revalidated.headers["etag"] == response.headers["etag"]
    assert revalidated.headers["content-security-policy"] == CONTENT_SECURITY_POLICY


@pytest.mark.parametrize("path", MISSING)
def test_unknown_plugin_namespace_or_version_is_an_html_404(http: httpx.Client, path: str) -> None:
    response = http.get(path)
    assert response.status_code == 404
    assert_secure(response)
    assert "<h1>Not found</h1>" in response.text


def test_static_files_are_named_by_content_and_cached_for_ever(http: httpx.Client) -> None:
    html = http.get("/").text
    urls = re.findall(r'(?:href|src)="(/static/[^"]+)"', html)
    assert {u.split("?")[0] for u in urls} == {
        "/static/favicon.svg",
        "/static/site.css",
        "/static/site.js",
    }
    total = len(html.encode())
    for url in urls:
        assert re.search(r"\?v=[0-9a-f]{12}$", url)
        response = http.get(url)
        assert response.status_code == 200
        assert "max-age=31536000" in response.headers["cache-control"]
        assert "immutable" in response.headers["cache-control"]
        assert response.headers["x-content-type-options"] == "nosniff"
        total += len(response.content)
    plugin_page = len(http.get("/plugins/clawft/weather").content)
    assert total < 60_000 and plugin_page + total - len(html.encode()) < 60_000


def test_plugin_page_says_what_it_may_do_who_signed_it_and_what_it_did(
    http: httpx.Client,
) -> None:
    html = http.get("/plugins/clawft/weather").text
    text = text_of(html)
    for words in (
        "connects to api.weather.com",
        "reads and writes files under data/ in its own folder",
        "reads the WEATHER_UNITS setting",
        "clawft-registry pull clawft/weather@1.2.0",
        "clawft-registry sync --dest plugins --select clawft/weather@1.2.0",
        f"Signer {ALICE}",
        "yes: a trusted signer of clawft",
        "Transparency log entry index",
        "Verdict: approved",
        "size-budget passed",
        "behaviour passed",
        "signature passed",
    ):
        assert words in text or words in html, words
    assert re.search(r"Component sha256:[0-9a-f]{64}", text)
    assert re.search(r"Bundle sha256:[0-9a-f]{64}", text)
    assert re.search(r"http-request api\.weather\.com 0 0", text)
    hello = text_of(http.get("/plugins/clawft/hello").text)
    assert "no network access" in hello and "no file access" in hello
    assert "Forecasts" not in hello and "clawft/hello 0.1.0" in hello


def test_rejected_version_says_which_check_failed_and_why(http: httpx.Client) -> None:
    text = text_of(http.get("/plugins/clawft/loop/0.1.0").text)
    assert "The verifier rejected this version." in text
    assert re.search(r"The behaviour check failed: [^.]*fuel", text)
    assert "cannot be downloaded" in text and "clawft-registry pull" not in text
    latest = http.get("/plugins/clawft/loop")
    assert latest.status_code == 200 and "The verifier rejected" in latest.text


def test_yanked_version_carries_a_banner_and_the_table_the_reason(http: httpx.Client) -> None:
    html = http.get("/plugins/clawft/hello/0.1.1").text
    assert "This version was yanked" in html
    assert "greets the wrong person &lt;b&gt;oops&lt;/b&gt;" in html
    assert YANK_REASON not in html
    latest = http.get("/plugins/clawft/hello").text
    assert "This version was yanked" not in latest
    assert re.search(r"yanked</span>: <span class=\"reason\">greets the wrong", latest)


def test_hostile_descriptions_render_as_text(http: httpx.Client) -> None:
    for path in ("/plugins/clawft/hostile", "/search?q=hostile", "/namespaces/clawft"):
        html = http.get(path).text
        assert "&lt;script&gt;window.__pwned = 1&lt;/script&gt;" in html, path
        assert "<script>window" not in html and "<img" not in html and "<b>bold" not in html
        assert "onerror=&#34;" in html or "onerror=&quot;" in html
    rejected = http.get("/plugins/clawft/hostile/0.2.0").text
    assert "\x1b" not in rejected and "\u202e" not in rejected
    assert "\\x1b[31mred\\x1b[0m \\u202eevil\\u202c" in rejected
    assert "The manifest check failed" in text_of(rejected)
    assert HOSTILE_HTML not in rejected


def test_search_filters_by_namespace_and_permission(http: httpx.Client) -> None:
    def found(query: str) -> list[str]:
        return re.findall(r'class="result" href="/plugins/([^"]+)"', http.get(query).text)

    assert found("/search") == ["clawft/hello", "clawft/hostile", "clawft/weather"]
    assert found("/search?q=forecast") == ["clawft/weather"]
    assert found("/search?permission=no-network") == ["clawft/hello", "clawft/hostile"]
    assert found("/search?permission=no-files&q=weather") == []
    assert found("/search?namespace=clawft&q=hel") == ["clawft/hello"]
    assert found("/search?namespace=nobody") == []
    assert "Page 2" not in http.get("/search").text
    assert "clawft/loop" not in http.get("/").text
    assert "Recently approved" in http.get("/").text


@pytest.mark.parametrize(
    "query",
    [
        "q=" + "[" * 30_000,
        "q=" + "a" * 201,
        "page=0",
        "page=99999999999999999999",
        "permission=everything",
        "q=" + "x" * 1_000_000,
    ],
    ids=["30000-deep", "201-chars", "page-0", "page-huge", "bad-permission", "1MB"],
)
def test_oversized_or_bad_queries_are_refused_cleanly(
    http: httpx.Client, marketplace: Marketplace, query: str
) -> None:
    status, headers, body = raw_get(marketplace.url, f"/search?{query}")
    # 0: the HTTP server refused the request line itself (uvicorn answers 400 and closes the
    # connection, which the unread rest of a 1 MB request turns into a reset).
    assert status == 0 or 400 <= status < 500, status
    if headers.get("content-type", "").startswith("text/html"):
        assert headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        assert b"<h1>Bad request</h1>" in body and len(body) < 10_000
    assert http.get("/").status_code == 200


def raw_get(url: str, target: str) -> tuple[int, dict[str, str], bytes]:
    """``GET target`` on a raw socket (httpx itself refuses URLs this long)."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        request = f"GET {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
        with contextlib.suppress(OSError):  # the server may answer before reading it all
            sock.sendall(request.encode())
        chunks = []
        with contextlib.suppress(ConnectionResetError):
            while chunk := sock.recv(65536):
                chunks.append(chunk)
    if not chunks:
        return 0, {}, b""
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split()[1]), headers, body


def test_pages_are_not_in_the_openapi_schema(http: httpx.Client) -> None:
    paths = http.get("/schema/openapi.json").json()["paths"]
    assert all(p.startswith(("/api/", "/tuf/", "/healthz", "/readyz")) for p in paths), paths


def test_a_plugin_page_costs_no_more_queries_than_the_json_api(
    http: httpx.Client, marketplace: Marketplace, counts_held: DownloadCounts
) -> None:
    api = "/api/v1/plugins/clawft/weather"
    with statements(marketplace) as json_calls:
        for path in (
            api,
            f"{api}/latest",
            f"{api}/versions/1.2.0/report",
            "/api/v1/namespaces/clawft",
        ):
            assert http.get(path).status_code == 200
    with statements(marketplace) as page:
        assert http.get("/plugins/clawft/weather/1.2.0").status_code == 200
    assert len(page) <= len(json_calls), (page, json_calls)
    with statements(marketplace) as again:
        assert http.get("/plugins/clawft/weather").status_code == 200
    with statements(marketplace) as plugin_and_latest:
        assert http.get(api).status_code == 200
        assert http.get(f"{api}/latest").status_code == 200
    assert len(again) <= len(plugin_and_latest), (again, plugin_and_latest)
    assert not [s for s in page + again if not s.lstrip().upper().startswith("SELECT")]
    with statements(marketplace) as search_page:
        assert http.get("/search?q=hello").status_code == 200
    with statements(marketplace) as search_api:
        assert http.get("/api/v1/plugins?q=hello").status_code == 200
    assert len(search_page) <= len(search_api)


def test_downloads_are_counted_without_a_database_write_each(
    http: httpx.Client, marketplace: Marketplace, counts_held: DownloadCounts
) -> None:
    services = marketplace.registry.services
    url = "/api/v1/plugins/clawft/hostile/versions/0.1.0/component"

    def shown() -> int:
        html = http.get("/plugins/clawft/hostile/0.1.0").text
        match = re.search(r'<span id="downloads">([\d,]+) download', html)
        assert match
        return int(match.group(1).replace(",", ""))

    before = shown()
    with statements(marketplace) as during:
        for _ in range(5):
            assert http.get(url).status_code == 200
        assert http.head(url).status_code == 200  # a HEAD is not a download
    writes = [s for s in during if not s.lstrip().upper().startswith("SELECT")]
    assert writes == []
    assert shown() == before + 5  # this process's counts, not written yet
    with statements(marketplace) as flushing:
        assert services.download_counts.flush() == 5
    assert sum(1 for s in flushing if "INSERT" in s.upper()) == 1
    with services.db.session() as session:
        stored = session.scalar(sa.select(sa.func.sum(DownloadCount.downloads)))
    assert stored is not None and stored >= 5
    assert shown() == before + 5
    assert services.download_counts.flush() == 0


def test_downloads_answered_in_front_of_the_app_are_counted(
    http: httpx.Client, marketplace: Marketplace, counts_held: DownloadCounts
) -> None:
    """``serve``'s workers answer cached downloads before the app (registry.fastpath): those
    count too, in memory like the rest."""
    services = marketplace.registry.services
    path = "/api/v1/plugins/clawft/weather/versions/1.2.0/component"
    assert http.get(path).status_code == 200  # the app's answer fills the caches
    before = services.download_counts.pending("clawft", "weather").get("1.2.0", 0)

    async def app(_scope: object, _receive: object, _send: object) -> None:
        raise AssertionError("the fast path should have answered")

    sent: list[dict[str, object]] = []

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "GET",
        "path": path,
        "headers": [],
        "extensions": {"http.response.pathsend": {}},
    }
    asyncio.run(DownloadFastPath(app, services)(scope, None, send))
    assert sent[0]["status"] == 200
    after = services.download_counts.pending("clawft", "weather").get("1.2.0", 0)
    assert after == before + 1


def test_components_fetched_through_tuf_are_counted(
    http: httpx.Client, marketplace: Marketplace, counts_held: DownloadCounts
) -> None:
    """Devices download through TUF (`pull`, `sync`): a component target counts, an index or
    a manifest does not."""
    import msgspec

    from client.sync.schemas import PluginIndex, TargetPart
    from registry.db import TufTarget

    services = marketplace.registry.services
    with services.db.session() as session:
        index_row = session.get(TufTarget, "index/clawft/weather.json")
        assert index_row is not None and index_row.content is not None
        index = msgspec.json.decode(index_row.content, type=PluginIndex)
        entry = next(v for v in index.versions if v.version == "1.2.0")
        rows = {
            part: session.get(TufTarget, entry.files[part])
            for part in (TargetPart.COMPONENT, TargetPart.MANIFEST)
        }
        hashed = {
            part: f"{row.path.rsplit('/', 1)[0]}/{row.sha256}.{row.path.rsplit('/', 1)[1]}"
            for part, row in rows.items()
            if row is not None
        }
    before = services.download_counts.pending("clawft", "weather").get("1.2.0", 0)
    for part in (TargetPart.COMPONENT, TargetPart.MANIFEST, TargetPart.COMPONENT):
        assert http.get(f"/tuf/targets/{hashed[part]}").status_code == 200
    assert http.get(f"/tuf/targets/{index_row.path}").status_code == 404  # not hash-prefixed
    after = services.download_counts.pending("clawft", "weather").get("1.2.0", 0)
    assert after == before + 2

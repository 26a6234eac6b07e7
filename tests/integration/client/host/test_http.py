"""http-request: SSRF forms, schemes, redirects, and the response's size and time bounds.

A real server listens on 127.0.0.1 during these tests and records every request, so a
containment failure shows up as a hit, not only as a missing error.
"""

from __future__ import annotations

import ipaddress
import json
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from client.host import HttpPolicy, Plugin, PluginError, PluginHost
from client.manifest import MANIFEST_FILE_NAME, load_manifest
from tests.conftest import component_of, with_manifest
from tests.integration.client.host.conftest import LocalServer

LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"),)


def ssrf_probe(
    host: PluginHost, built: dict[str, Path], port: int | None = None, at: Path | None = None
) -> Plugin:
    """The SSRF probe; with ``port`` (and a directory ``at``), every host of its manifest is
    allowed on that port too, so that only the address rules stand between it and the local
    server."""
    if port is None or at is None:
        return host.load(component_of(built["ssrf-probe"]))
    manifest = load_manifest(built["ssrf-probe"] / MANIFEST_FILE_NAME)
    network = [
        *manifest.permissions.network,
        *(f"[{h}]:{port}" if ":" in h else f"{h}:{port}" for h in manifest.permissions.network),
    ]
    return host.load(with_manifest(built["ssrf-probe"], at, permissions={"network": network}))


def get(plugin: Plugin, url: str) -> str:
    return plugin.invoke("get", json.dumps({"url": url}))


SSRF_HOSTS = [
    "localhost",
    "127.0.0.1",
    "2130706433",  # 127.0.0.1 as one decimal number
    "0x7f.1",  # hexadecimal, short form
    "017700000001",  # octal
    "127.1",  # short form
    "0",  # 0.0.0.0
    "[::1]",
    "[::ffff:127.0.0.1]",  # IPv4-mapped
    "[64:ff9b::7f00:1]",  # NAT64
    "[2002:7f00:1::]",  # 6to4
]


@pytest.mark.parametrize("hostname", SSRF_HOSTS)
def test_ssrf_forms_are_refused(
    host: PluginHost,
    built: dict[str, Path],
    local_server: LocalServer,
    hostname: str,
    tmp_path: Path,
) -> None:
    plugin = ssrf_probe(host, built, local_server.port, tmp_path / "probe")
    with pytest.raises(PluginError, match=r"denied: .*(resolves only to addresses|refused)"):
        get(plugin, local_server.url("/hello", host=hostname))
    assert local_server.hits == []
    (entry,) = plugin.audit.entries(function="http-request")
    assert not entry.permitted and entry.error


def test_cloud_metadata_address_is_refused(host: PluginHost, built: dict[str, Path]) -> None:
    plugin = ssrf_probe(host, built)
    with pytest.raises(PluginError, match=r"169\.254\.0\.0/16"):
        get(plugin, "http://169.254.169.254/latest/meta-data/")


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("file:///etc/passwd", "scheme file: refused"),
        ("data:text/plain,hello", "scheme data: refused"),
        ("ftp://example.com/x", "scheme ftp: refused"),
        ("gopher://example.com/", "scheme gopher: refused"),
        ("//example.com/", "scheme"),
        ("http://user:pw@example.com/", "credentials"),
        ("http://example.com@127.0.0.1/", "credentials"),
        ("http://evil.test/", "not in the manifest"),
        ("http://example.com.evil.test/", "not in the manifest"),
        ("http://[::1/", "malformed URL"),
        ("http://" + "a" * 9000 + ".example.com/", "longer than"),
    ],
)
def test_url_rules(host: PluginHost, built: dict[str, Path], url: str, reason: str) -> None:
    plugin = ssrf_probe(host, built)
    with pytest.raises(PluginError, match=reason):
        get(plugin, url)
    assert plugin.audit.denied()


@pytest.fixture
def loopback_fetch(
    make_host: Callable[..., PluginHost],
    built: dict[str, Path],
    tmp_path: Path,
    local_server: LocalServer,
) -> Callable[..., Plugin]:
    """The fetch plugin allowed to reach the local server's port of 127.0.0.1 on a host whose
    operator opened 127/8."""

    def factory(**http: Any) -> Plugin:
        port = local_server.port
        component = with_manifest(
            built["fetch"],
            tmp_path / "fetch",
            permissions={
                "network": [f"127.0.0.1:{port}", f"localhost:{port}", f"example.com:{port}"]
            },
        )
        host = make_host(http=HttpPolicy(allowed_private_networks=LOOPBACK, **http))
        return host.load(component)

    return factory


def test_redirects_are_checked_at_every_hop(
    loopback_fetch: Callable[..., Plugin], local_server: LocalServer
) -> None:
    plugin = loopback_fetch()
    hop = local_server.url("/hello")
    assert json.loads(get(plugin, local_server.url(f"/redirect?to={hop}"))) == {
        "body": "hi from the loopback server"
    }
    for target, reason in [
        ("http://169.254.169.254/latest/meta-data/", "169.254"),
        ("http://evil.test/", "not in the manifest"),
        ("file:///etc/passwd", "scheme file"),
        (local_server.url("/hello", host="[::1]"), "not in the manifest"),
    ]:
        with pytest.raises(PluginError, match=f"redirect to .* refused.*{reason}"):
            get(plugin, local_server.url(f"/redirect?to={target}"))


def test_redirect_loops_are_bounded(
    loopback_fetch: Callable[..., Plugin], local_server: LocalServer
) -> None:
    plugin = loopback_fetch(max_redirects=2)
    inner = local_server.url("/redirect?to=/hello")
    middle = local_server.url(f"/redirect?to={inner}")
    with pytest.raises(PluginError, match="more than 2 redirects"):
        get(plugin, local_server.url(f"/redirect?to={middle}"))


def test_response_size_is_bounded(
    loopback_fetch: Callable[..., Plugin], local_server: LocalServer
) -> None:
    plugin = loopback_fetch()
    with pytest.raises(PluginError, match="over the 4,194,304-byte limit"):
        get(plugin, local_server.url("/big"))
    with pytest.raises(PluginError, match="over the 4,194,304-byte limit"):
        get(plugin, local_server.url("/gzip-bomb"))


def test_response_time_is_bounded(
    loopback_fetch: Callable[..., Plugin], local_server: LocalServer
) -> None:
    plugin = loopback_fetch(timeout_s=0.5)
    started = time.monotonic()
    with pytest.raises(PluginError, match="ran out of time"):
        get(plugin, local_server.url("/slow"))
    assert time.monotonic() - started < 2.0


def test_plugin_may_not_set_host_managed_headers(
    loopback_fetch: Callable[..., Plugin], local_server: LocalServer
) -> None:
    plugin = loopback_fetch()
    sandbox = plugin.sandbox
    for header in ("Host", "Content-Length", "Transfer-Encoding", "Accept-Encoding"):
        with pytest.raises(Exception, match="set by the host"):
            sandbox.http.request(
                "GET", local_server.url("/hello"), [(header, "x")], None, deadline=1e18
            )
    with pytest.raises(Exception, match="line break"):
        sandbox.http.request(
            "GET", local_server.url("/hello"), [("X-A", "b\r\nInjected: 1")], None, deadline=1e18
        )
    assert local_server.hits == []


def test_connects_only_to_the_address_it_vetted(
    loopback_fetch: Callable[..., Plugin],
    local_server: LocalServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A name resolving to a refused address and an allowed one: only the allowed one is used.

    The name is resolved once per connection, by the vetting backend, and the socket is
    opened to the address it judged: a second (rebinding) answer is never consulted.
    """
    real = socket.getaddrinfo
    answers = [
        [("10.0.0.1", "refused"), ("127.0.0.1", "allowed")],
        [("127.0.0.2", "rebinding")],  # would be a different server if it were ever asked
    ]
    asked: list[str] = []

    def fake_getaddrinfo(host: str, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host != "example.com":
            return real(host, port, *args, **kwargs)
        asked.append(host)
        batch = answers[min(len(asked) - 1, 1)]
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port)) for address, _ in batch
        ]

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)
    plugin = loopback_fetch()
    body = get(plugin, f"http://example.com:{local_server.port}/hello")
    assert json.loads(body) == {"body": "hi from the loopback server"}
    assert asked == ["example.com"]

    answers[0] = [("10.0.0.1", "refused"), ("192.168.0.1", "refused")]
    asked.clear()
    with pytest.raises(PluginError, match="resolves only to addresses"):
        get(plugin, f"http://example.com:{local_server.port}/hello")
    assert local_server.hits == ["/hello"]

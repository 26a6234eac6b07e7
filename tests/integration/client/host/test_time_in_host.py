"""Time a plugin spends in host code is bounded like time in wasm: no plugin holds a call past
its timeout, whatever allowed WASI interface or host function it waits or computes in.

Fuel and epochs only stop wasm code. So timers are refused (a plugin could sleep on one for a
year), every other allowed WASI wait returns at once, a host call made after the deadline ends
the call, and host functions bound their own work on data a plugin or its server chose.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from client.host import (
    ForbiddenImport,
    HostSettings,
    HttpPolicy,
    PluginError,
    PluginHost,
    RateLimit,
    TimeoutExceeded,
)
from tests.conftest import component_of, with_manifest
from tests.integration.client.host.conftest import LocalServer
from tests.integration.client.host.test_hostile import still_serves
from tests.integration.client.host.test_http import LOOPBACK, get


def test_a_plugin_that_sleeps_on_a_wasi_timer_is_refused_at_load(
    host: PluginHost, built: dict[str, Path]
) -> None:
    # Its test vector returns at once; only {"until": "later"} or "date" would sleep a year.
    with pytest.raises(ForbiddenImport) as refused:
        host.load(component_of(built["sleeper"]))
    assert [item.split(" ")[0] for item in refused.value.offending] == [
        "wasi:clocks/monotonic-clock@0.2.0#subscribe-duration",
        "wasi:clocks/monotonic-clock@0.2.0#subscribe-instant",
    ]
    assert "plugins may not sleep" in str(refused.value)
    still_serves(host, built)


@pytest.mark.parametrize("tool", ["stdin", "stdout", "poll"])
def test_every_other_wasi_wait_returns_at_once(
    make_host: Callable[..., PluginHost], built: dict[str, Path], tmp_path: Path, tool: str
) -> None:
    component = with_manifest(built["wasi-waits"], tmp_path / "waits", resources={"timeout_s": 1})
    plugin = make_host().load(component)
    started = time.monotonic()
    answer = json.loads(plugin.invoke(tool, "{}"))
    assert time.monotonic() - started < 0.5
    assert answer in ({"read": "closed"}, {"writable": True}, {"ready": 2})


def test_host_calls_after_the_deadline_end_the_call(built: dict[str, Path], tmp_path: Path) -> None:
    """2,000 host calls in a row with no loop between them: wasm that epochs never check.
    With a log sink that takes 5 ms a line (an agent shipping its logs), the calls alone would
    take 10 s; the call ends at its 1 s timeout instead."""
    lines: list[str] = []

    def slow_sink(_plugin: str, _level: int, message: str) -> None:
        time.sleep(0.005)
        lines.append(message)

    host = PluginHost(
        HostSettings(
            cache_dir=tmp_path / "cache", log_rate=RateLimit(per_second=1e6, burst=1_000_000)
        ),
        log_sink=slow_sink,
    )
    plugin = host.load(component_of(built["host-call-chain"]))
    assert plugin.limits.timeout_s == 1
    started = time.monotonic()
    with pytest.raises(TimeoutExceeded, match="ran past its timeout of 1 s in tool 'chain'"):
        plugin.invoke("chain", "{}")
    assert time.monotonic() - started < 1.5
    assert 100 < len(lines) < 300  # it got a second's worth of calls, not 2,000
    lines.clear()
    started = time.monotonic()
    with pytest.raises(TimeoutExceeded):  # the next call gets its own second, no more
        plugin.invoke("chain", "{}")
    assert time.monotonic() - started < 1.5
    still_serves(host, built)


@pytest.fixture
def fetch(
    make_host: Callable[..., PluginHost],
    built: dict[str, Path],
    tmp_path: Path,
    local_server: LocalServer,
) -> Callable[[str], str]:
    component = with_manifest(
        built["fetch"],
        tmp_path / "fetch",
        permissions={"network": [f"127.0.0.1:{local_server.port}"]},
        resources={"timeout_s": 30},
    )
    plugin = make_host(http=HttpPolicy(allowed_private_networks=LOOPBACK)).load(component)
    return lambda path: json.loads(get(plugin, local_server.url(path)))["body"]


def test_a_response_in_a_quadratic_charset_is_read_as_utf8(
    fetch: Callable[[str], str],
) -> None:
    """Python's punycode codec is quadratic: 4 MB of it would keep the host busy for minutes,
    in a server's choice of charset. Only a short list of linear charsets is honoured."""
    started = time.monotonic()
    body = fetch("/charset?name=punycode&body=bulk")
    assert time.monotonic() - started < 2.0
    assert body == "a" * (4 * 1024 * 1024 - 16)


@pytest.mark.parametrize(
    ("charset", "expected"),
    [
        ("iso-8859-1", "café"),  # on the allowlist: decoded as the server says
        ("Windows-1252", "café"),
        ('"utf-8"', "caf\ufffd"),  # not a name on the list (quoted): UTF-8, with replacement
        ("utf_7", "caf\ufffd"),
        ("x-no-such-codec", "caf\ufffd"),
        ("idna", "caf\ufffd"),
    ],
)
def test_response_charsets_come_from_a_short_allowlist(
    fetch: Callable[[str], str], charset: str, expected: str
) -> None:
    assert fetch(f"/charset?name={charset}&body=latin") == expected


def test_a_huge_environment_variable_name_is_refused_without_matching_it(
    host: PluginHost, built: dict[str, Path]
) -> None:
    plugin = host.load(component_of(built["env-probe"]))
    name = "A" * 500_000  # the deny list is 60 patterns: matching would cost a second or more
    started = time.monotonic()
    assert json.loads(plugin.invoke("get", json.dumps({"name": name}))) == {"value": None}
    assert time.monotonic() - started < 0.5
    (entry,) = plugin.audit.denied()
    assert entry.error == "environment variable names are at most 256 characters"
    assert len(entry.params) <= 256


def test_a_port_the_manifest_does_not_name_is_refused(
    make_host: Callable[..., PluginHost],
    built: dict[str, Path],
    tmp_path: Path,
    local_server: LocalServer,
) -> None:
    """``127.0.0.1`` allows ports 80 and 443 only; ``127.0.0.1:PORT`` allows PORT only."""
    host = make_host(http=HttpPolicy(allowed_private_networks=LOOPBACK))
    by_name = host.load(
        with_manifest(built["fetch"], tmp_path / "a", permissions={"network": ["127.0.0.1"]})
    )
    with pytest.raises(PluginError, match=f"port {local_server.port} of '127.0.0.1' is not"):
        get(by_name, local_server.url("/hello"))
    assert local_server.hits == []
    other_port = f"127.0.0.1:{local_server.port + 1 if local_server.port < 65535 else 1}"
    by_port = host.load(
        with_manifest(
            built["fetch"],
            tmp_path / "b",
            permissions={"network": [f"127.0.0.1:{local_server.port}", other_port]},
        )
    )
    assert json.loads(get(by_port, local_server.url("/hello"))) == {
        "body": "hi from the loopback server"
    }
    # A redirect to a port the manifest did not name is refused like any other hop.
    with pytest.raises(PluginError, match=r"redirect to .* refused: port 22"):
        get(by_port, local_server.url("/redirect?to=http://127.0.0.1:22/"))
    assert local_server.hits == ["/hello", "/redirect?to=http://127.0.0.1:22/"]

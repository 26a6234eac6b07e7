"""The manifest's network allowlist: hosts, wildcards, and the port each entry allows."""

from __future__ import annotations

import pytest

from client.host.sandbox.hosts import HostAllowlist
from client.manifest import NetworkGrant, parse_network_entry

ALLOW = HostAllowlist(
    parse_network_entry(entry)
    for entry in (
        "api.weather.example",
        "*.example.com",
        "::1",
        "EXACT.Example.ORG.",
        "tiles.example.net:8443",
        "[2001:db8::1]:9000",
    )
)


@pytest.mark.parametrize(
    "host",
    [
        "api.weather.example",
        "API.Weather.Example.",
        "a.example.com",
        "deep.a.example.com",
        "[::1]",
        "0:0:0:0:0:0:0:1",
        "exact.example.org",
    ],
)
def test_permitted_on_the_default_ports(host: str) -> None:
    assert ALLOW.permits(host, 443) and ALLOW.permits(host, 80)


@pytest.mark.parametrize(
    "host",
    [
        "example.com",
        "weather.example",
        "api.weather.example.evil.com",
        "evilexample.com",
        "a.example.com.evil.net",
        "127.0.0.1",
        "",
        "sub.exact.example.org",
    ],
)
def test_refused(host: str) -> None:
    assert not ALLOW.permits_host(host)
    assert not ALLOW.permits(host, 443)


@pytest.mark.parametrize(
    ("host", "port"),
    [
        ("api.weather.example", 8080),  # no port named: 80 and 443 only
        ("api.weather.example", 22),
        ("a.example.com", 6379),
        ("tiles.example.net", 443),  # the entry names 8443, so only 8443
        ("tiles.example.net", 80),
        ("[2001:db8::1]", 443),
    ],
)
def test_other_ports_are_refused(host: str, port: int) -> None:
    assert ALLOW.permits_host(host)
    assert not ALLOW.permits(host, port)


def test_a_named_port_is_the_only_one_allowed() -> None:
    assert ALLOW.permits("tiles.example.net", 8443)
    assert ALLOW.permits("[2001:db8::1]", 9000)
    both = HostAllowlist([NetworkGrant("a.test", None), NetworkGrant("a.test", 8080)])
    assert both.permits("a.test", 443) and both.permits("a.test", 8080)
    assert not both.permits("a.test", 8081)

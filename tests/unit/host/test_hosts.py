"""The manifest's network allowlist."""

from __future__ import annotations

import pytest

from client.host.sandbox.hosts import HostAllowlist

ALLOW = HostAllowlist(["api.weather.example", "*.example.com", "::1", "EXACT.Example.ORG."])


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
def test_permitted(host: str) -> None:
    assert ALLOW.permits(host)


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
    assert not ALLOW.permits(host)

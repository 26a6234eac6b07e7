"""SSRF protection: which resolved addresses a plugin may connect to."""

from __future__ import annotations

import ipaddress

import pytest

from client.host.sandbox.addresses import blocked_reason, unwrap

BLOCKED = [
    "127.0.0.1",
    "127.255.255.254",
    "0.0.0.0",  # blocked: unspecified
    "10.1.2.3",
    "172.16.0.1",
    "172.31.255.255",
    "192.168.1.1",
    "169.254.169.254",  # cloud metadata
    "100.64.0.1",  # carrier-grade NAT
    "100.127.255.254",
    "192.0.0.8",
    "192.0.2.1",  # documentation
    "198.18.0.1",  # benchmarking
    "198.19.255.254",
    "198.51.100.7",
    "203.0.113.9",
    "224.0.0.1",  # multicast
    "239.255.255.250",
    "240.0.0.1",  # reserved
    "255.255.255.255",
    "::",
    "::1",
    "fe80::1",
    "fc00::1",
    "fd12:3456::1",
    "fec0::1",
    "ff02::1",
    "2001:db8::1",
    "3fff::1",
    "100::1",
    "2001:2::1",  # benchmarking
    "64:ff9b:1::1",
    # IPv4 embedded in IPv6: unwrapped first
    "::ffff:127.0.0.1",
    "::ffff:169.254.169.254",
    "::ffff:10.0.0.1",
    "::127.0.0.1",  # IPv4-compatible
    "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
    "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
    "2002:7f00:1::",  # 6to4 of 127.0.0.1
    "2002:a00:1::1",  # 6to4 of 10.0.0.1
    "2001:0:4136:e378:8000:63bf:80ff:fffe",  # Teredo of 127.0.0.1
]

ALLOWED = [
    "93.184.215.14",
    "1.1.1.1",
    "8.8.8.8",
    "2606:4700:4700::1111",
    "::ffff:93.184.215.14",
    "2002:5db8:d70e::1",  # 6to4 of a public address
]


@pytest.mark.parametrize("address", BLOCKED)
def test_blocked_addresses_are_refused(address: str) -> None:
    assert blocked_reason(ipaddress.ip_address(address)) is not None


@pytest.mark.parametrize("address", ALLOWED)
def test_public_addresses_are_allowed(address: str) -> None:
    assert blocked_reason(ipaddress.ip_address(address)) is None


def test_embedded_ipv4_is_unwrapped() -> None:
    assert unwrap(ipaddress.ip_address("::ffff:127.0.0.1")) == ipaddress.ip_address("127.0.0.1")
    assert unwrap(ipaddress.ip_address("64:ff9b::a9fe:a9fe")) == ipaddress.ip_address(
        "169.254.169.254"
    )
    assert unwrap(ipaddress.ip_address("2002:a00:1::1")) == ipaddress.ip_address("10.0.0.1")


def test_operator_opened_range_is_allowed_only_for_that_range() -> None:
    opened = [ipaddress.ip_network("127.0.0.0/8")]
    assert blocked_reason(ipaddress.ip_address("127.0.0.1"), allowed_networks=opened) is None
    assert blocked_reason(ipaddress.ip_address("::ffff:127.0.0.1"), allowed_networks=opened) is None
    assert blocked_reason(ipaddress.ip_address("10.0.0.1"), allowed_networks=opened) is not None
    assert blocked_reason(ipaddress.ip_address("::1"), allowed_networks=opened) is not None


def test_reason_names_the_range() -> None:
    reason = blocked_reason(ipaddress.ip_address("169.254.169.254"))
    assert reason is not None and "169.254.0.0/16" in reason

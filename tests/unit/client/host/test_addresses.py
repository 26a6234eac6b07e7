"""SSRF protection: which resolved addresses a plugin may connect to."""

from __future__ import annotations

import ipaddress

import pytest

from client.host.sandbox.addresses import blocked_reason, unwrap

BLOCKED = [  # (address, the reserved range that refuses it)
    ("127.0.0.1", "127.0.0.0/8"),
    ("127.255.255.254", "127.0.0.0/8"),
    ("0.0.0.0", "0.0.0.0/8"),  # blocked: unspecified
    ("10.1.2.3", "10.0.0.0/8"),
    ("172.16.0.1", "172.16.0.0/12"),
    ("172.31.255.255", "172.16.0.0/12"),
    ("192.168.1.1", "192.168.0.0/16"),
    ("169.254.169.254", "169.254.0.0/16"),  # cloud metadata
    ("100.64.0.1", "100.64.0.0/10"),  # carrier-grade NAT
    ("100.127.255.254", "100.64.0.0/10"),
    ("192.0.0.8", "192.0.0.0/24"),
    ("192.0.2.1", "192.0.2.0/24"),  # documentation
    ("198.18.0.1", "198.18.0.0/15"),  # benchmarking
    ("198.19.255.254", "198.18.0.0/15"),
    ("198.51.100.7", "198.51.100.0/24"),
    ("203.0.113.9", "203.0.113.0/24"),
    ("224.0.0.1", "224.0.0.0/4"),  # multicast
    ("239.255.255.250", "224.0.0.0/4"),
    ("240.0.0.1", "240.0.0.0/4"),  # reserved
    ("255.255.255.255", "240.0.0.0/4"),
    ("::", "::/128"),
    ("::1", "::1/128"),
    ("fe80::1", "fe80::/10"),
    ("fc00::1", "fc00::/7"),
    ("fd12:3456::1", "fc00::/7"),
    ("fec0::1", "fec0::/10"),
    ("ff02::1", "ff00::/8"),
    ("2001:db8::1", "2001:db8::/32"),
    ("3fff::1", "3fff::/20"),
    ("100::1", "100::/64"),
    ("2001:2::1", "2001::/23"),  # benchmarking
    ("64:ff9b:1::1", "64:ff9b:1::/48"),
    # IPv4 embedded in IPv6: unwrapped first
    ("::ffff:127.0.0.1", "127.0.0.0/8"),
    ("::ffff:169.254.169.254", "169.254.0.0/16"),
    ("::ffff:10.0.0.1", "10.0.0.0/8"),
    ("::127.0.0.1", "127.0.0.0/8"),  # IPv4-compatible
    ("64:ff9b::7f00:1", "127.0.0.0/8"),  # NAT64 of 127.0.0.1
    ("64:ff9b::a9fe:a9fe", "169.254.0.0/16"),  # NAT64 of 169.254.169.254
    ("2002:7f00:1::", "127.0.0.0/8"),  # 6to4 of 127.0.0.1
    ("2002:a00:1::1", "10.0.0.0/8"),  # 6to4 of 10.0.0.1
    ("2001:0:4136:e378:8000:63bf:80ff:fffe", "2001::/23"),  # Teredo of 127.0.0.1
]

ALLOWED = [
    "93.184.215.14",
    "1.1.1.1",
    "8.8.8.8",
    "2606:4700:4700::1111",
    "::ffff:93.184.215.14",
    "2002:5db8:d70e::1",  # 6to4 of a public address
]


@pytest.mark.parametrize(("address", "reserved"), BLOCKED)
def test_blocked_addresses_are_refused_by_their_range(address: str, reserved: str) -> None:
    """Refused, and by the range that covers it (as given, or once its IPv4 is unwrapped)."""
    refused = ipaddress.ip_address(address)
    assert blocked_reason(refused) == f"{refused} is in the reserved range {reserved}"


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
    assert blocked_reason(ipaddress.ip_address("10.0.0.1"), allowed_networks=opened) == (
        "10.0.0.1 is in the reserved range 10.0.0.0/8"
    )
    assert blocked_reason(ipaddress.ip_address("::1"), allowed_networks=opened) == (
        "::1 is in the reserved range ::1/128"
    )


def test_reason_names_the_range() -> None:
    reason = blocked_reason(ipaddress.ip_address("169.254.169.254"))
    assert reason is not None and "169.254.0.0/16" in reason

"""Which socket addresses a plugin may connect to (SSRF protection).

Judged on resolved addresses, never on the host string. IPv4 embedded in IPv6 (IPv4-mapped,
IPv4-compatible, NAT64, 6to4, Teredo) is unwrapped first and judged as IPv4, because Python's
``ipaddress`` calls some of those forms global. The blocked ranges follow the IANA IPv4 and
IPv6 special-purpose address registries; on top of them, anything ``ipaddress`` does not call
global is refused too.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

BLOCKED_IPV4: tuple[ipaddress.IPv4Network, ...] = tuple(
    ipaddress.IPv4Network(net)
    for net in (
        "0.0.0.0/8",  # "this network", unspecified
        "10.0.0.0/8",  # private
        "100.64.0.0/10",  # carrier-grade NAT
        "127.0.0.0/8",  # loopback
        "169.254.0.0/16",  # link-local (cloud metadata lives here)
        "172.16.0.0/12",  # private
        "192.0.0.0/24",  # IETF protocol assignments
        "192.0.2.0/24",  # documentation TEST-NET-1
        "192.31.196.0/24",  # AS112
        "192.52.193.0/24",  # AMT
        "192.88.99.0/24",  # deprecated 6to4 relay anycast
        "192.168.0.0/16",  # private
        "192.175.48.0/24",  # direct delegation AS112
        "198.18.0.0/15",  # benchmarking
        "198.51.100.0/24",  # documentation TEST-NET-2
        "203.0.113.0/24",  # documentation TEST-NET-3
        "224.0.0.0/4",  # multicast
        "240.0.0.0/4",  # reserved, and 255.255.255.255 broadcast
    )
)

BLOCKED_IPV6: tuple[ipaddress.IPv6Network, ...] = tuple(
    ipaddress.IPv6Network(net)
    for net in (
        "::/128",  # unspecified
        "::1/128",  # loopback
        "64:ff9b:1::/48",  # local-use IPv4/IPv6 translation
        "100::/64",  # discard-only
        "2001::/23",  # IETF protocol assignments (Teredo, benchmarking, ORCHID, …)
        "2001:db8::/32",  # documentation
        "3fff::/20",  # documentation
        "5f00::/16",  # segment routing SIDs
        "fc00::/7",  # unique local
        "fe80::/10",  # link-local
        "fec0::/10",  # site-local (deprecated)
        "ff00::/8",  # multicast
    )
)

_IPV4_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_SIX_TO_FOUR = ipaddress.IPv6Network("2002::/16")
_TEREDO = ipaddress.IPv6Network("2001::/32")


def embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries, if it is one of the embedding forms."""
    value = int(address)
    if address in _IPV4_MAPPED or address in _IPV4_COMPATIBLE or address in _NAT64:
        return ipaddress.IPv4Address(value & 0xFFFFFFFF)
    if address in _SIX_TO_FOUR:
        return ipaddress.IPv4Address((value >> 80) & 0xFFFFFFFF)
    if address in _TEREDO:
        # The client address is stored inverted in the low 32 bits.
        return ipaddress.IPv4Address(~value & 0xFFFFFFFF)
    return None


def unwrap(address: IPAddress) -> IPAddress:
    """``address`` with any embedded IPv4 address taken out."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.scope_id is not None:
            address = ipaddress.IPv6Address(str(address).split("%", 1)[0])
        inner = embedded_ipv4(address)
        if inner is not None:
            return inner
    return address


def blocked_reason(address: IPAddress, *, allowed_networks: Iterable[IPNetwork] = ()) -> str | None:
    """Why ``address`` is refused, or ``None`` when a plugin may connect to it.

    ``allowed_networks`` are ranges an operator opened explicitly; they are matched against
    both the address as given and its unwrapped IPv4 form.
    """
    candidates: list[IPAddress] = [address]
    inner = unwrap(address)
    if inner != address:
        candidates.append(inner)
    for candidate in candidates:
        if any(candidate in net for net in allowed_networks if net.version == candidate.version):
            return None
    for candidate in candidates:  # the range that refuses it, as given or unwrapped
        table: Iterable[IPNetwork] = (
            BLOCKED_IPV4 if isinstance(candidate, ipaddress.IPv4Address) else BLOCKED_IPV6
        )
        for net in table:
            if candidate in net:
                return f"{address} is in the reserved range {net}"
    for candidate in candidates:
        if not candidate.is_global:
            return f"{address} is not a public address"
    return None

"""The manifest's network allowlist: exact host names and ``*.domain`` wildcards, each with the
port it allows (80 and 443 unless the entry names one, as ``host:port``)."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from client.manifest import DEFAULT_PORTS, NetworkGrant


def normalize_host(host: str) -> str:
    """Lower case, no trailing dot, IPv6 brackets removed, IP literals in canonical form."""
    text = host.strip().lower().rstrip(".")
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return text


class HostAllowlist:
    """Hosts a plugin declared. ``*.example.com`` matches sub-domains, not ``example.com``."""

    def __init__(self, grants: Iterable[NetworkGrant]) -> None:
        self._exact: dict[str, set[int | None]] = {}
        self._suffixes: list[tuple[str, int | None]] = []
        for grant in grants:
            norm = grant.host.strip().lower().rstrip(".")
            if norm.startswith("*."):
                self._suffixes.append((norm[1:], grant.port))  # keep the leading dot
            elif norm:
                self._exact.setdefault(normalize_host(norm), set()).add(grant.port)

    def _ports(self, host: str) -> set[int | None]:
        name = normalize_host(host)
        ports = set(self._exact.get(name, ()))
        ports.update(
            port
            for suffix, port in self._suffixes
            if name.endswith(suffix) and len(name) > len(suffix)
        )
        return ports

    def permits_host(self, host: str) -> bool:
        """Whether some entry names ``host``, on whatever port."""
        return bool(self._ports(host))

    def permits(self, host: str, port: int) -> bool:
        """Whether an entry allows ``port`` of ``host``."""
        return any(
            port in DEFAULT_PORTS if allowed is None else port == allowed
            for allowed in self._ports(host)
        )

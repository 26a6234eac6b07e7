"""The manifest's network allowlist: exact host names and ``*.domain`` wildcards."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable


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

    def __init__(self, patterns: Iterable[str]) -> None:
        self._exact: set[str] = set()
        self._suffixes: list[str] = []
        for pattern in patterns:
            norm = pattern.strip().lower().rstrip(".")
            if norm.startswith("*."):
                self._suffixes.append(norm[1:])  # keep the leading dot
            elif norm:
                self._exact.add(normalize_host(norm))

    def permits(self, host: str) -> bool:
        name = normalize_host(host)
        if name in self._exact:
            return True
        return any(name.endswith(suffix) and len(name) > len(suffix) for suffix in self._suffixes)

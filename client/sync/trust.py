"""Where a client keeps its trust in each registry: the pinned root and the TUF metadata it
has verified, under ``$XDG_CONFIG_HOME/clawft-registry/trust/<host>_<port>/`` (``pull`` and
``info``; a device's ``sync`` keeps them in its destination instead).

A root is pinned only by an explicit step (``clawft-registry trust init --root FILE``, or
``pull --root FILE``): never fetched and trusted on first use.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

from client.registry.config import config_path

__all__ = ["trust_dir"]

_UNSAFE = re.compile(r"[^a-z0-9.-]")


def trust_dir(registry_url: str, environ: Mapping[str, str] | None = None) -> Path:
    """The trust state of ``registry_url`` (one directory per host and port)."""
    parts = urlsplit(registry_url)
    host = _UNSAFE.sub("-", (parts.hostname or "registry").lower())[:100]
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return config_path(environ).parent / "trust" / f"{host}_{port}"

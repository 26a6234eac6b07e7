"""Where the client finds the registry and its token: flags, then the environment
(``CLAWFT_REGISTRY_URL``, ``CLAWFT_REGISTRY_TOKEN``), then ``config.toml`` in the user's config
directory (``$XDG_CONFIG_HOME/clawft-registry/``)::

    [registry]
    url = "https://plugins.example.org"
    token = "clawft_..."
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from client.decoding import Undecodable, loads_toml

DEFAULT_URL = "http://127.0.0.1:8750"


@dataclass(frozen=True, slots=True)
class ClientConfig:
    url: str
    """Base URL of the registry."""
    token: str | None
    """API token for publishing and managing; reading needs none."""


def config_path(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    base = env.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "clawft-registry" / "config.toml"


def load_client_config(
    *, url: str | None = None, token: str | None = None, environ: Mapping[str, str] | None = None
) -> ClientConfig:
    env = os.environ if environ is None else environ
    file_url: str | None = None
    file_token: str | None = None
    path = config_path(env)
    if path.is_file():
        try:
            table = loads_toml(path.read_text(encoding="utf-8"), what=str(path)).get("registry", {})
        except (OSError, UnicodeDecodeError, Undecodable) as exc:
            raise ValueError(f"cannot read {path}: {exc}") from None
        if not isinstance(table, dict):
            raise ValueError(f"{path}: [registry] must be a table")
        file_url = table.get("url") if isinstance(table.get("url"), str) else None
        file_token = table.get("token") if isinstance(table.get("token"), str) else None
    chosen = url or env.get("CLAWFT_REGISTRY_URL") or file_url or DEFAULT_URL
    if not chosen.startswith(("http://", "https://")):
        raise ValueError(f"registry URL {chosen!r} must start with http:// or https://")
    return ClientConfig(
        url=chosen.rstrip("/"),
        token=token or env.get("CLAWFT_REGISTRY_TOKEN") or file_token,
    )

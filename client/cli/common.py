"""Helpers shared by the command modules: reading inputs and reporting errors."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from client.cli.terminal import shown
from client.host import HostSettings

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


def fail(message: str, code: int = EXIT_FAILED) -> int:
    """Print ``error: message`` on stderr (control and bidi characters escaped: messages carry
    text from plugins and registries) and return ``code``."""
    print(f"error: {shown(message)}", file=sys.stderr)
    return code


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/clawft-registry/components`` (``~/.cache`` when unset)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "clawft-registry" / "components"


def host_settings(config: Path | None, cache_dir: Path | None, no_cache: bool) -> HostSettings:
    """Settings from an optional TOML file, with the cache directory resolved."""
    from dataclasses import replace

    settings = HostSettings.from_toml(config) if config is not None else HostSettings()
    if no_cache:
        return replace(settings, cache_dir=None)
    if cache_dir is not None:
        return replace(settings, cache_dir=cache_dir)
    if settings.cache_dir is None:
        return replace(settings, cache_dir=default_cache_dir())
    return settings


def add_sigstore_instance_options(parser: argparse.ArgumentParser) -> None:
    """``--trust-config FILE`` | ``--staging``; public Sigstore when neither is given."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--trust-config",
        type=Path,
        metavar="FILE",
        help="ClientTrustConfig JSON of a private or local Sigstore instance "
        "(clawft-registry dev-authority --out writes one)",
    )
    group.add_argument("--staging", action="store_true", help="use Sigstore's staging instance")

"""The plugin world ``clawft:plugin@0.1.0`` (``wit/clawft-plugin.wit``) as the host checks it.

A test keeps these signatures equal to the WIT file, so this module and the contract cannot
drift apart.
"""

from __future__ import annotations

import re

WORLD_PACKAGE = "clawft:plugin"
WORLD_VERSION = "0.1.0"
HOST_INTERFACE = f"{WORLD_PACKAGE}/host"
TOOL_INTERFACE = f"{WORLD_PACKAGE}/tool"

HOST_FUNCTIONS: dict[str, str] = {
    "http-request": (
        "func(method: string, url: string, headers: list<tuple<string, string>>, "
        "body: option<string>) -> result<string, string>"
    ),
    "read-file": "func(path: string) -> result<string, string>",
    "write-file": "func(path: string, content: string) -> result<_, string>",
    "get-env": "func(name: string) -> option<string>",
    "log": "func(level: u8, message: string)",
}

TOOL_FUNCTIONS: dict[str, str] = {
    "describe": "func() -> string",
    "invoke": "func(name: string, input: string) -> result<string, string>",
}

# Compatible versions of the world: 0.1.x (semver-compatible patch releases).
_COMPATIBLE = re.compile(r"^0\.1\.(0|[1-9]\d*)$")


def split_versioned(name: str) -> tuple[str, str | None]:
    """``"ns:pkg/iface@1.2.3"`` → ``("ns:pkg/iface", "1.2.3")``."""
    base, sep, ver = name.partition("@")
    return base, (ver if sep else None)


def is_world_interface(name: str, interface: str) -> bool:
    """Whether an import/export name is ``interface`` at a compatible version (0.1.x)."""
    base, ver = split_versioned(name)
    return base == interface and ver is not None and bool(_COMPATIBLE.match(ver))

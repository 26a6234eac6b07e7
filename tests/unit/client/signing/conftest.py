"""Fixtures for the client's signing unit tests: plugin files in memory and a local CA (no
server)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from client.signing import PluginFiles
from tests.signing_fixtures import _isolated_sigstore_cache, local_authority  # noqa: F401

HELLO_MANIFEST = b'name = "acme/hello"\nversion = "0.1.0"\ncomponent = "hello.wasm"\n'
HELLO_COMPONENT = b"\x00asm\x01\x00\x00\x00 hello component bytes"


@pytest.fixture
def hello_files() -> PluginFiles:
    return PluginFiles.from_bytes(manifest=HELLO_MANIFEST, component=HELLO_COMPONENT)


@pytest.fixture
def make_files() -> Callable[..., PluginFiles]:
    def make(
        *,
        name: str = "acme/hello",
        version: str = "0.1.0",
        component_name: str = "hello.wasm",
        component: bytes = HELLO_COMPONENT,
        extra: str = "",
    ) -> PluginFiles:
        manifest = (
            f'name = "{name}"\nversion = "{version}"\ncomponent = "{component_name}"\n{extra}'
        ).encode()
        return PluginFiles.from_bytes(manifest=manifest, component=component)

    return make

"""Fixtures for the signing unit tests: plugin files in memory and a local CA (no server)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from client.signing import PluginFiles
from infra.sigstore_authority import SigningAuthority

HELLO_MANIFEST = b'name = "acme/hello"\nversion = "0.1.0"\ncomponent = "hello.wasm"\n'
HELLO_COMPONENT = b"\x00asm\x01\x00\x00\x00 hello component bytes"


@pytest.fixture(autouse=True)
def _isolated_sigstore_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """sigstore-python caches trusted roots per user; use the copy it ships, in a temp dir."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))


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


@pytest.fixture(scope="module")
def local_authority(tmp_path_factory: pytest.TempPathFactory) -> SigningAuthority:
    """The authority's CA and logs, used directly (no HTTP) to issue real certificates."""
    return SigningAuthority(tmp_path_factory.mktemp("authority"))

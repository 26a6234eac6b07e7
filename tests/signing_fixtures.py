"""Fixtures the signing tests of the client and of the local authority share; a conftest
imports the ones its tests use (``_isolated_sigstore_cache`` is autouse where imported)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from infra.sigstore_authority import SigningAuthority

MakePlugin = Callable[..., Path]


@pytest.fixture(autouse=True)
def _isolated_sigstore_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """sigstore-python caches trusted roots per user; use the copy it ships, in a temp dir."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))


@pytest.fixture(scope="module")
def local_authority(tmp_path_factory: pytest.TempPathFactory) -> SigningAuthority:
    """The authority's CA and logs, used directly (no HTTP) to issue real certificates."""
    return SigningAuthority(tmp_path_factory.mktemp("authority"))


@pytest.fixture
def make_plugin(tmp_path: Path) -> MakePlugin:
    """Create a plugin directory (manifest + component bytes) and return it."""

    def make(
        name: str = "acme/hello",
        version: str = "0.1.0",
        component: str = "hello.wasm",
        content: bytes = b"\x00asm\x01\x00\x00\x00 any bytes will do",
        directory: str | None = None,
    ) -> Path:
        plugin = tmp_path / (directory or name.replace("/", "-"))
        plugin.mkdir(parents=True)
        (plugin / "clawft-plugin.toml").write_text(
            f'name = "{name}"\nversion = "{version}"\ncomponent = "{component}"\n'
            'description = "a plugin signed in the tests"\n'
        )
        (plugin / component).write_bytes(content)
        return plugin

    return make

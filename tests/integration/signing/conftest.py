"""The local signing authority, served in-process on 127.0.0.1, and plugins to sign with it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from client.signing import sign_plugin
from tests.conftest import RunningAuthority, run_authority


@pytest.fixture(scope="session")
def other_authority(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningAuthority]:
    """A second, unrelated authority: its bundles must not verify under the first's trust."""
    yield from run_authority(tmp_path_factory.mktemp("other-authority"))


@pytest.fixture(autouse=True)
def _isolated_sigstore_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """sigstore-python caches trusted roots per user; use the copy it ships, in a temp dir."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))


MakePlugin = Callable[..., Path]


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


@dataclass(frozen=True)
class SignedPlugin:
    directory: Path
    bundle: Path

    @property
    def manifest(self) -> Path:
        return self.directory / "clawft-plugin.toml"

    @property
    def component(self) -> Path:
        return self.directory / "hello.wasm"


@pytest.fixture
def signed_hello(dev_authority: RunningAuthority, make_plugin: MakePlugin) -> SignedPlugin:
    """acme/hello 0.1.0, signed by alice@example.com through the local authority."""
    plugin = make_plugin()
    bundle = sign_plugin(
        plugin, instance=dev_authority.instance, identity_token=dev_authority.token()
    )
    return SignedPlugin(plugin, bundle)

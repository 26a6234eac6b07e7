"""The local signing authority, served in-process on 127.0.0.1, and plugins to sign with it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from client.signing import sign_plugin
from tests.conftest import RunningAuthority, run_authority
from tests.signing_fixtures import MakePlugin, _isolated_sigstore_cache, make_plugin  # noqa: F401


@pytest.fixture(scope="session")
def other_authority(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningAuthority]:
    """A second, unrelated authority: its bundles must not verify under the first's trust."""
    yield from run_authority(tmp_path_factory.mktemp("other-authority"))


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
def signed_hello(
    dev_authority: RunningAuthority,
    make_plugin: MakePlugin,  # noqa: F811 - the fixture, by name
) -> SignedPlugin:
    """acme/hello 0.1.0, signed by alice@example.com through the local authority."""
    plugin = make_plugin()
    bundle = sign_plugin(
        plugin, instance=dev_authority.instance, identity_token=dev_authority.token()
    )
    return SignedPlugin(plugin, bundle)

"""Reading a plugin's manifest and component: only what signing needs, with clear refusals."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from client.signing import (
    PluginFiles,
    PluginFilesError,
    SigningLimits,
    default_bundle_path,
    hash_artifact_file,
    read_plugin_files,
)
from client.signing.plugin_files import parse_plugin_identity

from .conftest import HELLO_COMPONENT, HELLO_MANIFEST


def _plugin_dir(tmp_path: Path, manifest: bytes = HELLO_MANIFEST) -> Path:
    plugin = tmp_path / "hello"
    plugin.mkdir()
    (plugin / "clawft-plugin.toml").write_bytes(manifest)
    (plugin / "hello.wasm").write_bytes(HELLO_COMPONENT)
    return plugin


def test_directory_and_manifest_path_read_the_same_files(tmp_path: Path) -> None:
    plugin = _plugin_dir(tmp_path)
    by_dir = read_plugin_files(plugin)
    assert by_dir == read_plugin_files(plugin / "clawft-plugin.toml")
    assert by_dir.plugin.name == "acme/hello"
    assert by_dir.plugin.namespace == "acme"
    assert by_dir.component == HELLO_COMPONENT
    assert default_bundle_path(plugin, by_dir.plugin) == plugin / "hello.wasm.sigstore.json"


def test_missing_manifest_says_what_to_pass(tmp_path: Path) -> None:
    with pytest.raises(PluginFilesError, match="no plugin manifest"):
        read_plugin_files(tmp_path)


def test_missing_component_says_to_build(tmp_path: Path) -> None:
    plugin = _plugin_dir(tmp_path)
    (plugin / "hello.wasm").unlink()
    with pytest.raises(PluginFilesError, match="build the plugin first"):
        read_plugin_files(plugin)


def test_oversized_component_is_refused_without_reading_it_all(tmp_path: Path) -> None:
    plugin = _plugin_dir(tmp_path)
    with pytest.raises(PluginFilesError, match="larger than"):
        read_plugin_files(plugin, limits=SigningLimits(max_component_bytes=8))


@pytest.mark.parametrize(
    ("manifest", "field"),
    [
        (b'version = "0.1.0"\ncomponent = "hello.wasm"\n', "name"),
        (b'name = "Acme/Hello"\nversion = "0.1.0"\ncomponent = "hello.wasm"\n', "name"),
        (b'name = "hello"\nversion = "0.1.0"\ncomponent = "hello.wasm"\n', "name"),
        (b'name = "acme/hello"\nversion = 1\ncomponent = "hello.wasm"\n', "version"),
        (b'name = "acme/hello"\nversion = "0.1.0"\ncomponent = "../../etc/x.wasm"\n', "component"),
        (b'name = "acme/hello"\nversion = "0.1.0"\ncomponent = "/abs/hello.wasm"\n', "component"),
        (b'name = "acme/hello"\nversion = "0.1.0"\ncomponent = "hello.so"\n', "component"),
    ],
)
def test_manifest_fields_are_validated(manifest: bytes, field: str) -> None:
    with pytest.raises(PluginFilesError, match=f"valid `{field}`"):
        parse_plugin_identity(manifest)


@pytest.mark.parametrize("manifest", [b"name = ", b"\xff\xfe\x00", b"[[[", b'name = "a\x00"'])
def test_unparseable_manifests_are_refused(manifest: bytes) -> None:
    with pytest.raises(PluginFilesError):
        PluginFiles.from_bytes(manifest=manifest, component=b"")


def test_artifact_hash_is_streamed_sha256(tmp_path: Path) -> None:
    artifact = tmp_path / "data.bin"
    artifact.write_bytes(b"x" * 3_000_001)
    hashed = hash_artifact_file(artifact, chunk_size=65_536)
    assert hashed.digest == hashlib.sha256(b"x" * 3_000_001).digest()

"""The compiled-component cache: hits skip compilation; bad entries are rebuilt, never trusted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from client.host import HostSettings, PluginHost
from client.host.cache import CompiledComponentCache, UnsafeCacheDirectory
from tests.conftest import component_of


def _entry(host: PluginHost, digest: str) -> Path:
    assert host.cache is not None
    return host.cache.directory / f"{digest}.cwasm"


def test_second_load_comes_from_the_cache(tmp_path: Path, built: dict[str, Path]) -> None:
    settings = HostSettings(cache_dir=tmp_path / "cache")
    data = component_of(built["hello"]).read_bytes()
    first = PluginHost(settings).compile(data)
    assert not first.from_cache
    second = PluginHost(settings).compile(data)  # a new host: as after a restart
    assert second.from_cache
    assert second.shape == first.shape
    plugin = PluginHost(settings).load(component_of(built["hello"]))
    assert plugin.compiled.from_cache
    assert json.loads(plugin.invoke("greet", '{"name": "cache"}'))


@pytest.mark.parametrize(
    "damage",
    ["flip-payload-byte", "truncate", "empty", "wrong-magic", "foreign-key", "foreign-engine"],
)
def test_corrupt_or_foreign_entries_are_rebuilt(
    tmp_path: Path, built: dict[str, Path], damage: str
) -> None:
    settings = HostSettings(cache_dir=tmp_path / "cache")
    hello = component_of(built["hello"]).read_bytes()
    notes = component_of(built["notes"]).read_bytes()
    host = PluginHost(settings)
    compiled = host.compile(hello)
    other = host.compile(notes)
    path = _entry(host, compiled.digest)
    blob = bytearray(path.read_bytes())
    if damage == "flip-payload-byte":
        blob[-100] ^= 0xFF
    elif damage == "truncate":
        blob = blob[: len(blob) // 2]
    elif damage == "empty":
        blob = bytearray()
    elif damage == "wrong-magic":
        blob[0:4] = b"EVIL"
    elif damage == "foreign-key":
        # Another component's entry under this component's name.
        blob = bytearray(_entry(host, other.digest).read_bytes())
    elif damage == "foreign-engine":
        magic_len = len(b"CLAWFT-COMPILED-COMPONENT/1\n")
        blob[magic_len + 64 : magic_len + 80] = b"0123456789abcdef"
    path.write_bytes(bytes(blob))
    again = PluginHost(settings).compile(hello)
    assert not again.from_cache  # rebuilt, not trusted
    assert again.shape == compiled.shape
    rebuilt = PluginHost(settings).compile(hello)
    assert rebuilt.from_cache  # and the rebuilt entry is good again


def test_unsafe_cache_directory_is_refused(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    cache.chmod(0o777)  # the unsafe mode is the point of the test
    with pytest.raises(UnsafeCacheDirectory, match="world-writable"):
        PluginHost(HostSettings(cache_dir=cache))


def test_cache_key_has_the_engine_fingerprint(tmp_path: Path) -> None:
    host = PluginHost(HostSettings(cache_dir=tmp_path / "cache"))
    assert host.cache is not None
    assert host.cache.directory.name == host.engine.fingerprint
    with pytest.raises(ValueError, match="fingerprint"):
        CompiledComponentCache(tmp_path, engine=host.engine.engine, fingerprint="short")

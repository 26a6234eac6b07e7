"""The compiled-component cache: hits skip compilation; bad entries are rebuilt, never trusted."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import msgspec
import pytest

from client.host import HostSettings, PluginHost, SizeBudget
from client.host import budget as budget_module
from client.host.cache import MAGIC, CompiledComponentCache, UnsafeCacheDirectory
from client.host.errors import SizeBudgetExceeded
from tests.conftest import component_of


def _cache(host: PluginHost) -> CompiledComponentCache:
    assert host.cache is not None
    return host.cache


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


def test_the_same_host_loads_a_component_again_from_memory(
    tmp_path: Path, built: dict[str, Path]
) -> None:
    host = PluginHost(HostSettings(cache_dir=tmp_path / "cache"))
    data = component_of(built["hello"]).read_bytes()
    first = host.compile(data)
    _cache(host).facts_path(first.digest).unlink()  # the disk entry is not consulted again
    again = host.compile(data)
    assert again.from_cache and again.component is first.component
    assert _cache(host).hits == 0


def test_a_cached_load_compresses_nothing(
    tmp_path: Path, built: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The gzipped size is computed once, when compiling, and kept with the entry."""
    near_budget = component_of(built["over-gzip-budget"]).read_bytes()
    settings = HostSettings(
        cache_dir=tmp_path / "cache", size_budget=SizeBudget(component_gzip_bytes=209_000)
    )
    calls: list[int] = []
    real = budget_module.gzipped_size

    def counted(data: bytes) -> int:
        calls.append(len(data))
        return real(data)

    monkeypatch.setattr(budget_module, "gzipped_size", counted)
    PluginHost(settings).compile(near_budget)
    assert len(calls) == 1
    assert PluginHost(settings).compile(near_budget).from_cache
    assert len(calls) == 1


def test_the_budget_still_applies_to_a_cached_component(
    tmp_path: Path, built: dict[str, Path]
) -> None:
    """A component cached by a host with a larger budget is refused by one with a smaller
    budget, from the facts kept with the entry."""
    data = component_of(built["over-gzip-budget"]).read_bytes()
    generous = SizeBudget(component_gzip_bytes=209_000)  # gzipped: 208,820 bytes
    PluginHost(HostSettings(cache_dir=tmp_path / "cache", size_budget=generous)).compile(data)
    with pytest.raises(SizeBudgetExceeded, match="gzipped"):
        PluginHost(HostSettings(cache_dir=tmp_path / "cache")).compile(data)


def _rewrite_facts(cache: CompiledComponentCache, digest: str, **changes: object) -> None:
    """Facts with a valid checksum but other contents: only the fields say they are wrong."""
    raw = cache.facts_path(digest).read_bytes()
    facts = msgspec.json.decode(raw[len(MAGIC) + 65 :])
    facts.update(changes)
    body = msgspec.json.encode(facts)
    record = MAGIC + hashlib.sha256(body).hexdigest().encode() + b"\n" + body
    cache.facts_path(digest).write_bytes(record)


@pytest.mark.parametrize(
    "damage",
    [
        "flip-artifact-byte",
        "truncate-artifact",
        "empty-artifact",
        "missing-artifact",
        "missing-facts",
        "flip-facts-byte",
        "wrong-magic",
        "foreign-key",
        "foreign-engine",
        "negative-artifact-size",
        "facts-not-json",
        "artifact-from-another-component",
        "artifact-is-a-link",
        "facts-is-a-directory",
        "oversized-facts",
    ],
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
    cache = _cache(host)
    artifact, facts = cache.artifact_path(compiled.digest), cache.facts_path(compiled.digest)
    if damage == "flip-artifact-byte":
        blob = bytearray(artifact.read_bytes())
        blob[-100] ^= 0xFF
        artifact.write_bytes(bytes(blob))
    elif damage == "truncate-artifact":
        artifact.write_bytes(artifact.read_bytes()[: artifact.stat().st_size // 2])
    elif damage == "empty-artifact":
        artifact.write_bytes(b"")
    elif damage == "missing-artifact":
        artifact.unlink()
    elif damage == "missing-facts":  # a writer stopped between the two files
        facts.unlink()
    elif damage == "flip-facts-byte":
        blob = bytearray(facts.read_bytes())
        blob[-5] ^= 0x01
        facts.write_bytes(bytes(blob))
    elif damage == "wrong-magic":
        facts.write_bytes(b"EVIL" + facts.read_bytes()[4:])
    elif damage == "foreign-key":  # another component's entry under this component's name
        facts.write_bytes(cache.facts_path(other.digest).read_bytes())
        artifact.write_bytes(cache.artifact_path(other.digest).read_bytes())
    elif damage == "foreign-engine":
        _rewrite_facts(cache, compiled.digest, engine="0123456789abcdef")
    elif damage == "negative-artifact-size":  # would read the whole file, unbounded
        _rewrite_facts(cache, compiled.digest, artifact_size=-5)
    elif damage == "facts-not-json":
        body = b"[1, 2"
        facts.write_bytes(MAGIC + hashlib.sha256(body).hexdigest().encode() + b"\n" + body)
    elif damage == "artifact-from-another-component":
        artifact.write_bytes(cache.artifact_path(other.digest).read_bytes())
    elif damage == "artifact-is-a-link":
        target = tmp_path / "elsewhere.cwasm"
        target.write_bytes(artifact.read_bytes())
        artifact.unlink()
        artifact.symlink_to(target)
    elif damage == "facts-is-a-directory":
        facts.unlink()
        facts.mkdir()
    elif damage == "oversized-facts":
        facts.write_bytes(facts.read_bytes() + b" " * (2 * 1024 * 1024))
    again = PluginHost(settings).compile(hello)
    assert not again.from_cache  # rebuilt, not trusted
    assert again.shape == compiled.shape
    rebuilt = PluginHost(settings).compile(hello)
    # The rebuilt entry is good again (a directory in the way cannot be replaced: then every
    # load compiles, and says so in the log).
    assert rebuilt.from_cache is (damage != "facts-is-a-directory")
    assert rebuilt.shape == compiled.shape


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

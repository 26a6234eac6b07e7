"""Manifest parsing: the ARCHITECTURE.md example parses; hostile manifests are refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from client.manifest import MAX_MANIFEST_BYTES, ManifestInvalid, load_manifest, parse_manifest

EXAMPLE = b"""
name = "acme/weather"
version = "1.2.0"
description = "Forecasts for the clawft agent"
component = "weather.wasm"

[permissions]
network = ["api.weather.example", "*.example.com"]
filesystem = ["data/"]
env = ["WEATHER_UNITS"]

[resources]
max_fuel = 500_000_000
max_memory_mb = 32
timeout_s = 10
max_table_elements = 10_000

[[tests]]
tool = "forecast"
input = '{"city": "Oslo"}'
expect = "ok"
"""


def test_architecture_example_parses() -> None:
    manifest = parse_manifest(EXAMPLE)
    assert manifest.name == "acme/weather" and manifest.namespace == "acme"
    assert manifest.permissions.network == ["api.weather.example", "*.example.com"]
    assert manifest.resources.max_memory_mb == 32
    assert manifest.tests[0].tool == "forecast"


BASE = 'version = "1.0.0"\ncomponent = "a.wasm"\n'


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ('name = "Acme/Weather"\n' + BASE, "$.name"),
        ('name = "acme"\n' + BASE, "$.name"),
        ('name = "acme/wea ther"\n' + BASE, "$.name"),
        ('name = "acme/../etc"\n' + BASE, "$.name"),
        ('name = "acme/-x"\n' + BASE, "$.name"),
        ('name = "a/b"\nversion = "1.0"\ncomponent = "a.wasm"\n', "$.version"),
        ('name = "a/b"\nversion = "1.0.0"\ncomponent = "../a.wasm"\n', "$.component"),
        ('name = "a/b"\nversion = "1.0.0"\ncomponent = "a.exe"\n', "$.component"),
        ('name = "a/b"\n' + BASE + "surprise = 1\n", "surprise"),
        ('name = "a/b"\n' + BASE + "[resources]\nmax_fuel = -1\n", "max_fuel"),
        ('name = "a/b"\n' + BASE + "[resources]\nmax_fuel = 'lots'\n", "max_fuel"),
        (
            'name = "a/b"\n' + BASE + '[[tests]]\ntool = "t"\ninput = "{}"\nexpect = "maybe"\n',
            "expect",
        ),
        ('name = "a/b"\n' + BASE + "[permissions]\nnetwork = 'x'\n", "network"),
        ("name = ", "not a valid"),
        ("\x00\x01binary", "not a valid"),
        (BASE, "name"),
    ],
)
def test_hostile_manifests_are_refused(text: str, where: str) -> None:
    with pytest.raises(ManifestInvalid, match="not a valid plugin manifest") as info:
        parse_manifest(text.encode())
    assert where in str(info.value)


def test_oversized_manifest_is_refused_without_parsing(tmp_path: Path) -> None:
    path = tmp_path / "clawft-plugin.toml"
    path.write_bytes(b"#" * (MAX_MANIFEST_BYTES + 10))
    with pytest.raises(ManifestInvalid, match="at most"):
        load_manifest(path)


def test_missing_manifest(tmp_path: Path) -> None:
    with pytest.raises(ManifestInvalid, match="cannot read"):
        load_manifest(tmp_path / "missing.toml")

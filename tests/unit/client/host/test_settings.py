"""Operator settings from TOML: per-plugin resources, private networks; hostile files refused."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from client.host.settings import DataQuota, HostSettings


def test_reads_per_plugin_resources_and_networks(tmp_path: Path) -> None:
    path = tmp_path / "host.toml"
    path.write_text(
        'cache_dir = "/tmp/c"\nallowed_private_networks = ["127.0.0.0/8"]\n'
        '[plugins."acme/weather".resources]\nmax_fuel = 2_000_000_000\ntimeout_s = 60\n',
        encoding="utf-8",
    )
    settings = HostSettings.from_toml(path)
    assert settings.cache_dir == Path("/tmp/c")
    assert settings.http.allowed_private_networks == (ipaddress.ip_network("127.0.0.0/8"),)
    request = settings.plugin_resources["acme/weather"]
    assert request.max_fuel == 2_000_000_000 and request.timeout_s == 60
    assert settings.data_quota == DataQuota()  # the defaults: 256 MiB, 10,000 entries


def test_reads_the_data_quota(tmp_path: Path) -> None:
    path = tmp_path / "host.toml"
    path.write_text("[data_quota]\nbytes = 1_048_576\nentries = 50\n", encoding="utf-8")
    assert HostSettings.from_toml(path).data_quota == DataQuota(bytes=1 << 20, entries=50)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("cache_dri = 'x'", "unknown setting"),
        ("allowed_private_networks = ['not-a-net']", "allowed_private_networks"),
        ('[plugins."a/b".resources]\nmax_fuel = -5', "positive"),
        ('[plugins."a/b".resources]\nmax_fuel = "lots"', "positive"),
        ('[plugins."a/b".resources]\nunlimited = true', "unknown"),
        ("= broken toml", "cannot read"),
        ("[data_quota]\nentries = -1", "data_quota.entries must be a whole number"),
        ("[data_quota]\nbytes = 1.5", "data_quota.bytes must be a whole number"),
        ("[data_quota]\ninodes = 5", "data_quota takes bytes and entries"),
        ("data_quota = " + "[" * 30_000 + "]" * 30_000, "nests too deeply"),
    ],
)
def test_bad_settings_are_refused_clearly(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "host.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        HostSettings.from_toml(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot read"):
        HostSettings.from_toml(tmp_path / "nope.toml")

"""Operator settings from TOML: per-plugin resources, private networks; hostile files refused."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from client.host.settings import HostSettings


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


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("cache_dri = 'x'", "unknown setting"),
        ("allowed_private_networks = ['not-a-net']", "allowed_private_networks"),
        ('[plugins."a/b".resources]\nmax_fuel = -5', "positive"),
        ('[plugins."a/b".resources]\nmax_fuel = "lots"', "positive"),
        ('[plugins."a/b".resources]\nunlimited = true', "unknown"),
        ("= broken toml", "cannot read"),
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

"""Check 1, the manifest: every rule has a hostile case with its own reason."""

from __future__ import annotations

import hashlib

import pytest

from verifier.checks.manifest import check_manifest, confusable_problem, valid_host_pattern
from verifier.settings import VerifierSettings

GOOD = """\
name = "acme/weather"
version = "1.2.0"
description = "Forecasts for the clawft agent"
component = "weather.wasm"

[permissions]
network = ["api.weather.example", "*.example.com", "93.184.215.14"]
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
COMPONENT = b"\x00asm\x0d\x00\x01\x00"
SETTINGS = VerifierSettings()


def run(text: str, component_name: str = "weather.wasm") -> tuple[bool, str, dict[str, object]]:
    result, manifest = check_manifest(text.encode(), component_name, COMPONENT, SETTINGS)
    assert (manifest is not None) == result.passed
    return result.passed, result.reason, result.details


def test_architecture_example_passes() -> None:
    passed, reason, details = run(GOOD)
    assert passed, reason
    assert details["component_sha256"] == hashlib.sha256(COMPONENT).hexdigest()
    assert details["name"] == "acme/weather"


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("аcme/weather", "CYRILLIC SMALL LETTER A, which looks like 'a'"),  # Cyrillic small a
        ("acme/wеather", "CYRILLIC SMALL LETTER IE"),  # Cyrillic small ie
        ("ａcme/weather", "FULLWIDTH LATIN SMALL LETTER A"),
        ("acme/weather\u200b", "ZERO WIDTH SPACE"),
        ("acme/wéather", "LATIN SMALL LETTER E WITH ACUTE"),
        ("Acme/weather", "$.name"),
        ("acme/weather/extra", "$.name"),
        ("acme/" + "w" * 70, "$.name"),
    ],
)
def test_confusable_and_malformed_names(name: str, reason: str) -> None:
    passed, got, _ = run(GOOD.replace('name = "acme/weather"', f'name = "{name}"'))
    assert not passed
    assert reason in got


def test_confusable_helper_accepts_ascii() -> None:
    assert confusable_problem("acme/weather-2", "name") is None


@pytest.mark.parametrize(
    ("old", "new", "reason"),
    [
        ('version = "1.2.0"', 'version = "1.2"', "$.version"),
        ('component = "weather.wasm"', 'component = "other.wasm"', "upload's component is"),
        ("max_fuel = 500_000_000", "max_fuel = 20_000_000_000", "max_fuel"),
        ("max_memory_mb = 32", "max_memory_mb = 1024", "max_memory_mb"),
        ("timeout_s = 10", "timeout_s = 3600", "timeout_s"),
        ("max_table_elements = 10_000", "max_table_elements = 1_000_000", "max_table_elements"),
        ('env = ["WEATHER_UNITS"]', 'env = ["OPENAI_API_KEY"]', "deny list"),
        ('env = ["WEATHER_UNITS"]', 'env = ["BAD-NAME"]', "not a valid environment"),
        ('filesystem = ["data/"]', 'filesystem = ["../etc"]', "'..'"),
        ('filesystem = ["data/"]', 'filesystem = ["/etc"]', "relative path"),
        ('input = \'{"city": "Oslo"}\'', "input = '{not json'", "is not valid JSON"),
        (
            'input = \'{"city": "Oslo"}\'',
            "input = '" + "[" * 30_000 + "]" * 30_000 + "'",
            "the input of the test vector for 'forecast' nests too deeply",
        ),
        ("max_fuel = 500_000_000", "max_fuel = " + "[" * 30_000 + "]" * 30_000, "nests too"),
        (
            'description = "Forecasts for the clawft agent"',
            'description = "safe \u202egnp.exe"',
            "RIGHT-TO-LEFT OVERRIDE",
        ),
        (
            'description = "Forecasts for the clawft agent"',
            f'description = "{"x" * 2000}"',
            "$.description",
        ),
    ],
)
def test_each_rule_has_its_reason(old: str, new: str, reason: str) -> None:
    assert old in GOOD
    passed, got, _ = run(GOOD.replace(old, new))
    assert not passed
    assert reason in got


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        ("https://api.example.com", "no scheme"),
        ("api.example.com/path", "no scheme, user or path"),
        ("api.example.com:0", "port must be a number from 1 to 65535"),
        ("api.example.com:http", "port must be a number"),
        (":8080", "names no host"),
        ("*", "wildcard is only allowed as *.domain"),
        ("a.*.example.com", "wildcard is only allowed as *.domain"),
        ("localhost:8080", "local host"),
        ("127.0.0.1:8443", "can never be reached"),
        ("*.com.", "not a valid host name"),
        ("API.Example.com", "lowercase"),
        ("bücher.example", "lowercase ASCII"),
        ("localhost", "local host"),
        ("metadata.google.internal", "local host"),
        ("2130706433", "numeric address"),
        ("0x7f.1", "numeric address"),
        ("127.0.0.1", "can never be reached"),
        ("169.254.169.254", "can never be reached"),
        ("::1", "can never be reached"),
        ("*.10.0.0.1", "wildcard needs a domain"),
    ],
)
def test_network_entries(entry: str, reason: str) -> None:
    problem = valid_host_pattern(entry)
    assert problem is not None and reason in problem


@pytest.mark.parametrize(
    "entry",
    [
        "api.example.com",
        "*.example.com",
        "93.184.215.14",
        "xn--bcher-kva.example",
        "api.example.com:8443",
        "*.example.com:8080",
        "[2001:4860::8888]:8443",
    ],
)
def test_good_network_entries(entry: str) -> None:
    assert valid_host_pattern(entry) is None


def test_every_problem_is_listed() -> None:
    text = GOOD.replace('env = ["WEATHER_UNITS"]', 'env = ["PATH", "HOME"]')
    passed, reason, details = run(text)
    assert not passed and "(and 1 more)" in reason
    assert len(details["problems"]) == 2  # type: ignore[arg-type]


def test_oversized_and_undecodable_manifests() -> None:
    passed, reason, _ = run("#" * 70_000)
    assert not passed and "the limit is 65,536" in reason
    result, _ = check_manifest(b"\xff\xfe\x00garbage", "weather.wasm", COMPONENT, SETTINGS)
    assert not result.passed and "not a valid plugin manifest" in result.reason

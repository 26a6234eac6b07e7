"""The signature check through the local authority, and `clawft-registry verify` end to end."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from client.signing import TrustedPublisher, sign_plugin
from tests.conftest import ALICE, RunningAuthority, component_of
from verifier import PluginUpload, VerifierSettings, verify_plugin

CLAWFT_REGISTRY = Path(sys.executable).parent / "clawft-registry"


@pytest.fixture
def signed_hello(built: dict[str, Path], dev_authority: RunningAuthority, tmp_path: Path) -> Path:
    """The hello example, copied and signed by alice@example.com via the local authority."""
    plugin = tmp_path / "hello"
    shutil.copytree(built["hello"], plugin)
    sign_plugin(plugin, instance=dev_authority.instance, identity_token=dev_authority.token())
    assert (plugin / "hello.wasm.sigstore.json").exists()
    return plugin


def upload(plugin: Path) -> PluginUpload:
    return PluginUpload(
        manifest=(plugin / "clawft-plugin.toml").read_bytes(),
        component=(plugin / "hello.wasm").read_bytes(),
        component_name="hello.wasm",
        bundle=(plugin / "hello.wasm.sigstore.json").read_bytes(),
    )


def signature(report_checks: list, name: str = "signature") -> tuple[bool, str]:  # type: ignore[type-arg]
    (found,) = [c for c in report_checks if c.name == name]
    return found.passed, found.reason


def test_signed_plugin_is_approved(signed_hello: Path, dev_authority: RunningAuthority) -> None:
    report = verify_plugin(
        upload(signed_hello),
        settings=VerifierSettings(trust_config=dev_authority.trust_config_path),
        publishers=[TrustedPublisher(identity=ALICE, issuer=dev_authority.issuer)],
    )
    assert report.verdict == "approved", [c.reason for c in report.failures]
    passed, reason = signature(report.checks)
    assert passed and f"signed by {ALICE}" in reason


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ("wrong-identity", "mallory@example.com"),
        ("wrong-issuer", "https://accounts.google.com"),
        ("tampered-component", "hello.wasm"),
        ("no-bundle", "no bundle"),
    ],
)
def test_signature_failures(
    signed_hello: Path, dev_authority: RunningAuthority, change: str, reason: str
) -> None:
    data = upload(signed_hello)
    identity, issuer = ALICE, dev_authority.issuer
    if change == "wrong-identity":
        identity = "mallory@example.com"
    elif change == "wrong-issuer":
        issuer = "https://accounts.google.com"
    elif change == "tampered-component":
        component = bytearray(data.component)
        component[-1] ^= 0x01  # in a custom section's bytes: still a loadable component
        data = PluginUpload(data.manifest, bytes(component), data.component_name, data.bundle)
    elif change == "no-bundle":
        data = PluginUpload(data.manifest, data.component, data.component_name, None)
    report = verify_plugin(
        data,
        settings=VerifierSettings(trust_config=dev_authority.trust_config_path),
        publishers=[TrustedPublisher(identity=identity, issuer=issuer)],
    )
    assert report.verdict == "rejected"
    passed, got = signature(report.checks)
    assert not passed and reason in got


def cli(*args: str | Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CLAWFT_REGISTRY), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")},
        check=False,
    )


def test_cli_summary_json_and_report(built: dict[str, Path], tmp_path: Path) -> None:
    ok = cli("verify", built["hello"], tmp_path=tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.splitlines()[-1].startswith("verdict: approved (clawft/hello 0.1.0")
    report_file = tmp_path / "report.json"
    bad = cli(
        "verify", built["infinite-loop"], "--json", "--report", report_file, tmp_path=tmp_path
    )
    assert bad.returncode == 1
    report = json.loads(bad.stdout)
    assert report["verdict"] == "rejected"
    assert json.loads(report_file.read_text(encoding="utf-8")) == report
    failed = [c for c in report["checks"] if not c["passed"]]
    assert [c["name"] for c in failed] == ["behaviour"]


def test_cli_failures_come_first(built: dict[str, Path], tmp_path: Path) -> None:
    result = cli("verify", built["forbidden-import"] / "clawft-plugin.toml", tmp_path=tmp_path)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines[0].startswith("FAIL imports") and "wasi:sockets/tcp" in lines[0]
    assert lines[-1].startswith("verdict: rejected")


def test_cli_with_signature(
    signed_hello: Path, dev_authority: RunningAuthority, tmp_path: Path
) -> None:
    result = cli(
        "verify",
        signed_hello,
        "--publisher",
        f"{ALICE}={dev_authority.issuer}",
        "--trust-config",
        dev_authority.trust_config_path,
        tmp_path=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"ok   signature            signed by {ALICE}" in result.stdout


@pytest.mark.parametrize(
    "args",
    [
        ["verify", "/nonexistent/plugin"],
        ["verify", "{hello}", "--publisher", "no-equals-sign"],
        ["verify", "{hello}", "--bundle", "/nonexistent.sigstore.json", "--publisher", "a=b"],
        ["verify", "{hello}", "--trust-config", "/nonexistent.json", "--publisher", "a=b"],
        ["verify"],
    ],
)
def test_cli_usage_errors_exit_2(built: dict[str, Path], tmp_path: Path, args: list[str]) -> None:
    hello = str(built["hello"])
    result = cli(*[hello if a == "{hello}" else a for a in args], tmp_path=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr


def test_cli_on_a_directory_with_a_broken_manifest(built: dict[str, Path], tmp_path: Path) -> None:
    plugin = tmp_path / "broken"
    plugin.mkdir()
    (plugin / "x.wasm").write_bytes(component_of(built["hello"]).read_bytes())
    (plugin / "clawft-plugin.toml").write_text("name = [", encoding="utf-8")
    result = cli("verify", plugin, tmp_path=tmp_path)
    assert result.returncode == 1
    assert result.stdout.startswith("FAIL manifest")


@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        (
            '\n[[tests]]\ntool = "greet"\ninput = \'' + "[" * 30_000 + "]" * 30_000 + "'\n",
            "the input of the test vector for 'greet' nests too deeply",
        ),
        ("\nnested = " + "[" * 30_000 + "]" * 30_000 + "\n", "nests too deeply"),
    ],
)
def test_cli_rejects_deeply_nested_manifests_with_a_reason(
    built: dict[str, Path], tmp_path: Path, extra: str, reason: str
) -> None:
    plugin = tmp_path / "deep"
    shutil.copytree(built["hello"], plugin)
    manifest = plugin / "clawft-plugin.toml"
    manifest.write_text(manifest.read_text(encoding="utf-8") + extra, encoding="utf-8")
    result = cli("verify", plugin, tmp_path=tmp_path)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    first = result.stdout.splitlines()[0]
    assert first.startswith("FAIL manifest") and reason in first

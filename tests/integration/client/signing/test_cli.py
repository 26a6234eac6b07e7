"""The commands: ``sign``, ``verify-signature`` and ``dev-authority``, through ``main`` and once
as real processes (the README's three commands)."""

from __future__ import annotations

import io
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from client.cli.main import main
from tests.conftest import ALICE, RunningAuthority
from tests.conftest import ASSETS as TEST_ASSETS
from tests.integration.client.signing.conftest import SignedPlugin
from tests.signing_fixtures import MakePlugin

ASSETS = TEST_ASSETS / "sigstore-public"
STAGING_SIGNER = [
    "--identity",
    "william@yossarian.net",
    "--issuer",
    "https://github.com/login/oauth",
]


def _verify_args(dev: RunningAuthority, signed: SignedPlugin, *extra: str) -> list[str]:
    return [
        "verify-signature",
        "--manifest",
        str(signed.manifest),
        "--bundle",
        str(signed.bundle),
        "--trust-config",
        str(dev.trust_config_path),
        *extra,
    ]


def test_sign_then_verify_signature(
    dev_authority: RunningAuthority, make_plugin: MakePlugin, capsys: pytest.CaptureFixture[str]
) -> None:
    plugin = make_plugin()
    token = dev_authority.authority.tokens.mint(ALICE)
    code = main(
        [
            "sign",
            str(plugin),
            "--trust-config",
            str(dev_authority.trust_config_path),
            "--identity-token",
            token,
        ]
    )
    assert code == 0, capsys.readouterr().err
    bundle = plugin / "hello.wasm.sigstore.json"
    assert bundle.is_file()
    assert str(bundle) in capsys.readouterr().out
    code = main(
        [
            "verify-signature",
            "--manifest",
            str(plugin / "clawft-plugin.toml"),
            "--bundle",
            str(bundle),
            "--identity",
            ALICE,
            "--issuer",
            dev_authority.issuer,
            "--trust-config",
            str(dev_authority.trust_config_path),
            "--offline",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert f"signed by {ALICE}" in out and "acme/hello 0.1.0" in out


def test_sign_reads_the_token_from_stdin(
    dev_authority: RunningAuthority,
    make_plugin: MakePlugin,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    plugin = make_plugin()
    monkeypatch.setattr(
        sys, "stdin", io.StringIO(dev_authority.authority.tokens.mint(ALICE) + "\n")
    )
    out = tmp_path / "custom.sigstore.json"
    code = main(
        [
            "sign",
            str(plugin / "clawft-plugin.toml"),
            "--trust-config",
            str(dev_authority.trust_config_path),
            "--identity-token",
            "-",
            "--output",
            str(out),
        ]
    )
    assert code == 0 and out.is_file()


@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        (["--identity", "bob@example.com", "--issuer", "{issuer}"], "identity-mismatch"),
        (["--identity", ALICE, "--issuer", "https://accounts.google.com"], "issuer-mismatch"),
    ],
)
def test_verify_signature_not_verified_exits_1_with_the_reason(
    dev_authority: RunningAuthority,
    signed_hello: SignedPlugin,
    capsys: pytest.CaptureFixture[str],
    extra: list[str],
    reason: str,
) -> None:
    args = [a.replace("{issuer}", dev_authority.issuer) for a in extra]
    assert main(_verify_args(dev_authority, signed_hello, *args)) == 1
    assert f"not verified ({reason})" in capsys.readouterr().err


def test_verify_signature_tampered_and_truncated_exit_1(
    dev_authority: RunningAuthority, signed_hello: SignedPlugin, capsys: pytest.CaptureFixture[str]
) -> None:
    who = ["--identity", ALICE, "--issuer", dev_authority.issuer]
    signed_hello.bundle.write_bytes(signed_hello.bundle.read_bytes()[:100])
    assert main(_verify_args(dev_authority, signed_hello, *who)) == 1
    assert "malformed-bundle" in capsys.readouterr().err


def test_verify_signature_unreadable_inputs_exit_2(
    dev_authority: RunningAuthority,
    signed_hello: SignedPlugin,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    who = ["--identity", ALICE, "--issuer", dev_authority.issuer]
    base = _verify_args(dev_authority, signed_hello, *who)
    missing_bundle = [*base]
    missing_bundle[base.index("--bundle") + 1] = str(tmp_path / "nope.json")
    assert main(missing_bundle) == 2
    missing_manifest = [*base]
    missing_manifest[base.index("--manifest") + 1] = str(tmp_path / "nope.toml")
    assert main(missing_manifest) == 2
    bad_config = tmp_path / "bad.json"
    bad_config.write_text("{}")
    broken_config = [*base]
    broken_config[base.index("--trust-config") + 1] = str(bad_config)
    assert main(broken_config) == 2
    assert "dev-authority --out" in capsys.readouterr().err


def test_verify_signature_needs_exactly_one_target(
    dev_authority: RunningAuthority, signed_hello: SignedPlugin
) -> None:
    who = ["--identity", ALICE, "--issuer", dev_authority.issuer]
    with pytest.raises(SystemExit) as caught:
        main([*_verify_args(dev_authority, signed_hello, *who), "--artifact", "x"])
    assert caught.value.code == 2


def test_verify_signature_of_public_artifacts_offline(capsys: pytest.CaptureFixture[str]) -> None:
    good = [
        "verify-signature",
        "--artifact",
        str(ASSETS / "bundle_v3.txt"),
        "--bundle",
        str(ASSETS / "bundle_v3.txt.sigstore"),
        *STAGING_SIGNER,
        "--staging",
        "--offline",
    ]
    assert main(good) == 0
    cve = [
        "verify-signature",
        "--artifact",
        str(ASSETS / "bundle_cve_2022_36056.txt"),
        "--bundle",
        str(ASSETS / "bundle_cve_2022_36056.txt.sigstore"),
        *STAGING_SIGNER,
        "--staging",
        "--offline",
    ]
    assert main(cve) == 1
    assert "log-entry-mismatch" in capsys.readouterr().err


def test_sign_failures(
    dev_authority: RunningAuthority,
    make_plugin: MakePlugin,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = str(dev_authority.trust_config_path)
    assert (
        main(["sign", str(tmp_path / "nothing"), "--trust-config", config, "--identity-token", "x"])
        == 2
    )
    assert (
        main(
            ["sign", str(make_plugin()), "--trust-config", config, "--identity-token", "not-a-jwt"]
        )
        == 1
    )
    assert "identity token" in capsys.readouterr().err


def test_dev_authority_token_and_refusals(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "state"
    assert main(["dev-authority", "token", "--identity", ALICE, "--state-dir", str(state)]) == 0
    captured = capsys.readouterr()
    assert captured.out.count(".") == 2  # a compact JWT and nothing else on stdout
    assert "NOT FOR PRODUCTION" in captured.err
    assert main(["dev-authority", "token", "--identity", "nobody", "--state-dir", str(state)]) == 2
    assert main(["dev-authority", "--state-dir", str(state)]) == 2  # --out is required
    assert (
        main(
            [
                "dev-authority",
                "--state-dir",
                str(state),
                "--host",
                "0.0.0.0",  # refused: the authority binds loopback only
                "--out",
                str(tmp_path / "tc.json"),
            ]
        )
        == 2
    )
    assert "loopback" in capsys.readouterr().err


# -- the README's three commands, as processes -------------------------------------------------


def _command() -> list[str]:
    installed = Path(sys.executable).with_name("clawft-registry")
    if installed.exists():
        return [str(installed)]
    found = shutil.which("clawft-registry")
    return [found] if found else [sys.executable, "-m", "client.cli.main"]


def _read_line(stream: io.TextIOBase | None, timeout: float) -> str:
    lines: queue.Queue[str] = queue.Queue()
    assert stream is not None
    threading.Thread(target=lambda: lines.put(stream.readline()), daemon=True).start()
    return lines.get(timeout=timeout)


def test_readme_flow_as_processes(tmp_path: Path, make_plugin: MakePlugin) -> None:
    cli = _command()
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    state, trust_config = tmp_path / "state", tmp_path / "trust-config.json"
    plugin = make_plugin()
    authority = subprocess.Popen(
        [*cli, "dev-authority", "--state-dir", str(state), "--out", str(trust_config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        ready = _read_line(authority.stdout, timeout=30)
        assert "listening on http://127.0.0.1:" in ready, ready
        issuer = ready.split("(issuer ")[1].split(")")[0]
        token = subprocess.run(
            [*cli, "dev-authority", "token", "--identity", ALICE, "--state-dir", str(state)],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=True,
        ).stdout.strip()
        signed = subprocess.run(
            [
                *cli,
                "sign",
                str(plugin),
                "--trust-config",
                str(trust_config),
                "--identity-token",
                token,
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        assert signed.returncode == 0, signed.stderr
        verified = subprocess.run(
            [
                *cli,
                "verify-signature",
                "--manifest",
                str(plugin / "clawft-plugin.toml"),
                "--bundle",
                str(plugin / "hello.wasm.sigstore.json"),
                "--identity",
                ALICE,
                "--issuer",
                issuer,
                "--trust-config",
                str(trust_config),
                "--offline",
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        assert verified.returncode == 0, verified.stderr
        assert "verified:" in verified.stdout
        (plugin / "hello.wasm").write_bytes(b"swapped after signing")
        rejected = subprocess.run(
            [
                *cli,
                "verify-signature",
                "--manifest",
                str(plugin),
                "--bundle",
                str(plugin / "hello.wasm.sigstore.json"),
                "--identity",
                ALICE,
                "--issuer",
                issuer,
                "--trust-config",
                str(trust_config),
                "--offline",
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        assert rejected.returncode == 1
        assert "digest-mismatch" in rejected.stderr
    finally:
        authority.send_signal(signal.SIGTERM)
        _, stderr = authority.communicate(timeout=30)
    assert authority.returncode == 0
    assert "NOT FOR PRODUCTION" in stderr

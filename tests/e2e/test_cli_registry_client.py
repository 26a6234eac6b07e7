"""The registry commands' own behaviour before any registry answers: usage errors exit 2,
an unreachable registry exits 1 with the reason, and nothing is installed."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import jwt
import pytest

CLAWFT_REGISTRY = Path(sys.executable).parent / "clawft-registry"


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cli(*args: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "CLAWFT_REGISTRY_URL": f"http://127.0.0.1:{closed_port()}",
    }
    env.pop("CLAWFT_REGISTRY_TOKEN", None)
    return subprocess.run(
        [str(CLAWFT_REGISTRY), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )


@pytest.mark.parametrize(
    "args",
    [
        ["search", "hello"],
        ["info", "clawft/hello"],
        ["yank", "clawft/hello@0.1.0", "--reason", "broken"],
    ],
)
def test_unreachable_registry_exits_1(args: list[str], tmp_path: Path) -> None:
    result = cli(*args, tmp_path=tmp_path)
    assert result.returncode == 1, result.stderr
    assert "cannot reach the registry" in result.stderr and "Traceback" not in result.stderr


def test_pull_without_a_pinned_root_refuses_and_says_how_to_pin_one(tmp_path: Path) -> None:
    """Never trust on first use: no root pinned for the registry, nothing is fetched."""
    result = cli("pull", "clawft/hello", "--dest", str(tmp_path / "plugins"), tmp_path=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "no root is pinned" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "plugins").exists()


def test_pull_with_a_root_that_is_not_one_is_a_usage_error(tmp_path: Path) -> None:
    bogus = tmp_path / "root.json"
    bogus.write_text('{"signed": {"_type": "root"}, "signatures": []}')
    result = cli(
        "pull",
        "clawft/hello",
        "--root",
        str(bogus),
        "--dest",
        str(tmp_path / "p"),
        tmp_path=tmp_path,
    )
    assert result.returncode == 2, result.stderr
    assert "not a self-signed TUF root" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["pull", "not-a-name"],
        ["pull", "clawft/hello@"],
        ["yank", "clawft/hello", "--reason", "no version"],
        ["info", "a/b/c"],
        ["search", "x", "--registry", "ftp://example.com"],
        ["publish", "/nonexistent/plugin"],
    ],
)
def test_usage_errors_exit_2(args: list[str], tmp_path: Path) -> None:
    result = cli(*args, tmp_path=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.startswith("error: ") and "Traceback" not in result.stderr


def test_publish_with_an_expired_identity_token_says_how_to_get_a_fresh_one(
    built: dict[str, Path], tmp_path: Path
) -> None:
    now = int(time.time())
    claims = {"iss": "https://x.invalid", "sub": "a@b.c", "aud": "sigstore", "iat": now - 900}
    expired = jwt.encode({**claims, "exp": now - 301}, "k" * 32, algorithm="HS256")
    plugin = tmp_path / "hello"
    shutil.copytree(built["hello"], plugin)
    result = cli(
        "publish", str(plugin), "--staging", "--identity-token", expired, tmp_path=tmp_path
    )
    assert result.returncode == 1, result.stderr
    assert re.search(r"the identity token expired 5 min \d+ s ago", result.stderr)
    assert "DATA_DIR/dev-identity-token" in result.stderr and "Traceback" not in result.stderr
    assert not (plugin / "hello.wasm.sigstore.json").exists()

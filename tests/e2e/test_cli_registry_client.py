"""The registry commands' own behaviour before any registry answers: usage errors exit 2,
an unreachable registry exits 1 with the reason, and nothing is installed."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

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
        ["pull", "clawft/hello@0.1.0", "--staging"],
        ["yank", "clawft/hello@0.1.0", "--reason", "broken"],
    ],
)
def test_unreachable_registry_exits_1(args: list[str], tmp_path: Path) -> None:
    result = (
        cli(*args, "--dest", str(tmp_path / "plugins"), tmp_path=tmp_path)
        if args[0] == "pull"
        else cli(*args, tmp_path=tmp_path)
    )
    assert result.returncode == 1, result.stderr
    assert "cannot reach the registry" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "plugins").exists()


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

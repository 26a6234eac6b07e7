"""Which event loop ``serve``'s granian workers run (registry.serving.event_loop)."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import pytest
from granian.constants import Loops

from client.cli.main import main
from registry.serving import check_address, event_loop


def test_uvloop_where_installed() -> None:
    assert event_loop() is Loops.uvloop


def test_asyncio_without_uvloop_never_another_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without uvloop, asyncio's own loop: never granian's "auto", which takes whatever other
    loop (rloop, …) happens to be installed."""
    monkeypatch.setitem(sys.modules, "uvloop", None)  # import uvloop now raises ImportError
    assert event_loop() is Loops.asyncio


@pytest.mark.usefixtures("root_logger_restored")
def test_serve_refuses_a_port_in_use_before_it_starts_anything(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """granian's own error is a Python traceback and a Rust backtrace."""
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        with pytest.raises(OSError, match=f"cannot listen on 127.0.0.1:{port}"):
            check_address("127.0.0.1", port)
        monkeypatch.setenv("CLAWFT_BROKER_URL", "redis://127.0.0.1:1/0")  # no embedded broker
        assert main(["serve", "--data-dir", str(tmp_path / "data"), "--port", str(port)]) == 1
    error = capsys.readouterr().err.strip().splitlines()
    assert error[-1].startswith(f"error: cannot listen on 127.0.0.1:{port}")
    assert "Traceback" not in "\n".join(error)
    assert not (tmp_path / "data").exists()  # nothing was started
    check_address("127.0.0.1", port)  # free again: no error

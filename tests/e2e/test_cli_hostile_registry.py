"""The client commands against a hostile registry: a real HTTP server on 127.0.0.1 answering
what an attacker chose (a compromised registry, or anyone between a device and a plain-http
URL). Text it sends reaches the terminal with its control and bidi characters escaped, and
names in a signed index are checked before ``pull`` builds a path from them (see
tests/integration/registry/test_pull.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

CLAWFT_REGISTRY = Path(sys.executable).parent / "clawft-registry"
FORGED = "\x1b[1A\x1b[2K\x1b[32mverdict: approved\x1b[0m \u202eexe.txt\r"
ESCAPED = "\\x1b[1A\\x1b[2K\\x1b[32mverdict: approved\\x1b[0m \\u202eexe.txt\\x0d"


class HostileRegistry:
    """Answers each path with the JSON a test put there (404 otherwise)."""

    def __init__(self) -> None:
        self.answers: dict[str, tuple[int, Any]] = {}
        registry = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                return

            def do_GET(self) -> None:
                status, body = registry.answers.get(
                    self.path.split("?")[0], (404, {"error": "not_found", "detail": "none"})
                )
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hostile() -> Iterator[HostileRegistry]:
    server = HostileRegistry()
    yield server
    server.close()


def cli(registry: HostileRegistry, *args: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "CLAWFT_REGISTRY_URL": registry.url,
    }
    return subprocess.run(
        [str(CLAWFT_REGISTRY), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )


def version_detail(**changes: Any) -> dict[str, Any]:
    base = "/api/v1/plugins/clawft/hello/versions/0.1.0"
    detail: dict[str, Any] = {
        "name": "clawft/hello",
        "version": "0.1.0",
        "status": "rejected",
        "yanked": False,
        "created_at": "2026-12-01T00:00:00+00:00",
        "component": {"sha256": "0" * 64, "size": 6, "filename": "hello.wasm"},
        "manifest": {"sha256": "1" * 64, "size": 6},
        "download": {"component": f"{base}/component", "manifest": f"{base}/manifest"},
        "report_summary": {
            "verdict": "rejected",
            "checks": [{"name": "behaviour", "passed": False, "skipped": False, "reason": FORGED}],
            "audit": {"calls": 0, "denied": 0},
        },
    }
    detail.update(changes)
    return detail


def assert_no_raw_controls(text: str) -> None:
    assert "\x1b" not in text and "\r" not in text and "\u202e" not in text


def test_search_and_info_escape_what_the_registry_says(
    hostile: HostileRegistry, tmp_path: Path
) -> None:
    hostile.answers["/api/v1/plugins"] = (
        200,
        {
            "items": [{"name": "clawft/hello", "description": FORGED, "latest_version": FORGED}],
            "page": 1,
            "per_page": 20,
            "total": 1,
        },
    )
    hostile.answers["/api/v1/plugins/clawft/hello"] = (
        200,
        {
            "name": "clawft/hello",
            "description": FORGED,
            "versions": [
                {"version": "0.1.0", "status": FORGED, "created_at": FORGED, "yanked": False}
            ],
        },
    )
    hostile.answers["/api/v1/plugins/clawft/hello/versions/0.1.0"] = (200, version_detail())
    for args in (["search", "hello"], ["info", "clawft/hello"], ["info", "clawft/hello@0.1.0"]):
        result = cli(hostile, *args, tmp_path=tmp_path)
        assert "Traceback" not in result.stderr
        assert_no_raw_controls(result.stdout + result.stderr)
        assert ESCAPED in result.stdout, (args, result.stdout)
    # --json stays exact: a machine reads the very string the registry sent.
    exact = cli(hostile, "search", "hello", "--json", tmp_path=tmp_path)
    assert json.loads(exact.stdout)["items"][0]["description"] == FORGED


def test_error_details_from_a_registry_are_escaped(
    hostile: HostileRegistry, tmp_path: Path
) -> None:
    hostile.answers["/api/v1/plugins"] = (400, {"error": "bad_request", "detail": FORGED})
    result = cli(hostile, "search", "hello", tmp_path=tmp_path)
    assert result.returncode == 1
    assert_no_raw_controls(result.stderr)
    assert ESCAPED in result.stderr


@pytest.mark.parametrize(
    "reference", ["../etc/hello", "clawft/../../x", "Clawft/Hello", "clawft/hello@../../x"]
)
def test_pull_refuses_references_that_are_not_plugin_names(
    hostile: HostileRegistry, tmp_path: Path, reference: str
) -> None:
    result = cli(hostile, "pull", reference, "--dest", str(tmp_path / "d"), tmp_path=tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("error: ") and not (tmp_path / "d").exists()

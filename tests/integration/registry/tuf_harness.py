"""Helpers of the TUF tests: an attacker's rewriting proxy in front of the registry, a
device's sync and what it runs, and metadata re-signed with a (stolen) online key."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from tuf.api.metadata import Metadata
from tuf.api.serialization.json import JSONSerializer

from client.sync import Generations, SyncSummary, sync
from client.sync.selection import parse_selection
from tests.conftest import RunningAuthority
from tests.integration.registry.harness import Registry

Rewrite = Callable[[str, bytes], bytes | None]
"""(path, honest body) → the body to serve instead (``None``: the honest one)."""


@dataclass
class Attacker:
    """An HTTP proxy in front of the registry that rewrites what it answers."""

    upstream: str
    rewrites: list[Rewrite] = field(default_factory=list)
    url: str = ""

    def body_for(self, path: str) -> tuple[int, bytes]:
        honest = httpx.get(self.upstream + path)
        body = honest.content
        for rewrite in self.rewrites:
            changed = rewrite(path, body)
            if changed is not None:
                return 200, changed
        return honest.status_code, body


@pytest.fixture
def attacker(registry: Registry) -> Iterator[Attacker]:
    proxy = Attacker(registry.url)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            return

        def do_GET(self) -> None:
            status, body = proxy.body_for(self.path)
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    proxy.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield proxy
    finally:
        server.shutdown()
        server.server_close()


def sync_via(url: str, dest: Path, authority: RunningAuthority, *selections: str) -> SyncSummary:
    return sync(
        dest,
        [parse_selection(s) for s in selections or ("clawft",)],
        instance=authority.instance,
        registry_url=url,
    )


def snapshot_of(dest: Path) -> tuple[str | None, dict[str, str]]:
    """What the device runs: its current generation and each plugin's version."""
    generations = Generations(dest)
    current = generations.current()
    return (
        current.name if current else None,
        {name: plugin.version for name, plugin in generations.installed().items()},
    )


def resign(registry: Registry, body: bytes, change: Callable[[Metadata], None]) -> bytes:
    """``body`` changed and signed again with the online key (what a stolen key could do)."""
    md: Metadata = Metadata.from_bytes(body)
    change(md)
    md.signatures.clear()
    md.sign(registry.tuf.keys.online)
    return md.to_bytes(JSONSerializer(compact=True))

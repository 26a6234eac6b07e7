"""Benchmark: fleet sync through The Update Framework, and what one approval costs to sign.

Three figures, each against a baseline measured in the same run:

1. **Sync of many plugins from empty** (1,000 by default) from a real ``clawft-registry serve``
   on 127.0.0.1: the TUF metadata bytes a device fetched against the plugin bytes, and the time
   of ``sync`` against fetching the same files with plain GETs from the same server (no TUF,
   no checks). The plugins are in a namespace with no signers and the device does not
   precompile, so the figure is what TUF adds, not Sigstore or the compiler.
2. **A sync with nothing new**: HTTP requests and bytes, counted by a loopback proxy in front
   of the registry, against the TUF minimum (the probe for a next root, and the timestamp).
3. **Re-signing one approval** in a generated repository of 100,000 approved versions against
   the same with 100: the roles re-signed, their bytes and the time (list the version, sign its
   bin, the snapshot and the timestamp, commit), for a new plugin's first version (its bin and
   its namespace index's) and for a new version of it (one bin). Also shown: what one index of
   everything would re-sign instead (the bytes of every bin).

Run: ``python bench/tuf_sync.py [--plugins 1000] [--large 100000] [--small 100]``.
"""

from __future__ import annotations

import argparse
import hashlib
import http.server
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import msgspec
import sqlalchemy as sa
from securesystemslib.signer import CryptoSigner

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._plugins import build_examples, with_custom_section
from bench.registry_download import CLI, free_port, running
from client.manifest import parse_manifest
from client.signing import SigstoreInstance
from client.sync import ChangeKind, Selection, pin_root, sync
from client.sync.schemas import (
    CUSTOM_KEY,
    IndexedVersion,
    PluginIndex,
    TargetCustom,
    TargetPart,
    plugin_index_path,
)
from registry.db import (
    Database,
    Namespace,
    Plugin,
    PluginVersion,
    Publisher,
    TufMetadata,
    TufTarget,
)
from registry.db.migrate import upgrade
from registry.db.models import utcnow
from registry.db.tuf_targets import list_version
from registry.settings import RegistrySettings
from registry.storage.factory import create_blob_store
from registry.tuf.bootstrap import ensure_embedded_repository
from registry.tuf.keys import RepositoryKeys
from registry.tuf.repository import create_repository, publish_changes, succinct_roles

NAMESPACE = "fleet"
VERSIONS_PER_PLUGIN = 10


# -- 1 and 2: a registry of many approved plugins, and a device syncing it ----------------


def populate(data: Path, hello: Path, count: int) -> int:
    """Approve ``count`` plugins (distinct components: hello plus a custom section naming the
    plugin) straight into a new registry's database and blob store, then create its TUF
    repository as ``serve`` would; returns the bytes of the plugin files."""
    settings = RegistrySettings.from_env({"CLAWFT_DATA_DIR": str(data)})
    data.mkdir(parents=True)
    db = Database(settings.database)
    upgrade(db.engine)
    blobs = create_blob_store(settings.storage)
    component = (hello / "hello.wasm").read_bytes()
    manifest_text = (hello / "clawft-plugin.toml").read_text()
    total = 0
    with db.session() as session:
        publisher = Publisher(name="fleet-owner")
        namespace = Namespace(name=NAMESPACE, owner=publisher)
        session.add_all([publisher, namespace])
        for n in range(count):
            name = f"plugin-{n:05d}"
            body = with_custom_section(component, "clawft-bench", name.encode())
            toml = manifest_text.replace('"clawft/hello"', f'"{NAMESPACE}/{name}"')
            manifest = toml.encode()
            for blob in (body, manifest):
                blobs.put_bytes(blob, max_bytes=1 << 24)
            total += len(body) + len(manifest)
            plugin = Plugin(namespace=namespace, name=name)
            session.add(
                PluginVersion(
                    plugin=plugin,
                    version=parse_manifest(manifest).version,
                    status="approved",
                    verdict_at=utcnow(),
                    component_filename="hello.wasm",
                    component_sha256=hashlib.sha256(body).hexdigest(),
                    component_size=len(body),
                    manifest_sha256=hashlib.sha256(manifest).hexdigest(),
                    manifest_size=len(manifest),
                    manifest=msgspec.to_builtins(parse_manifest(manifest)),
                    report="{}",
                    published_by=publisher,
                )
            )
    ensure_embedded_repository(settings, db)
    db.dispose()
    return total


@dataclass
class Counted:
    requests: list[tuple[str, int, int]]
    """(path, status, body bytes) of every request the proxy forwarded."""

    @property
    def bytes(self) -> int:
        return sum(size for _path, _status, size in self.requests)


@contextmanager
def counting_proxy(upstream: str) -> Iterator[tuple[str, Counted]]:
    """A loopback HTTP proxy in front of ``upstream`` that records each request."""
    counted = Counted([])
    client = httpx.Client(base_url=upstream, timeout=30)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            response = client.get(self.path)
            body = response.content
            counted.requests.append((self.path, response.status_code, len(body)))
            self.send_response(response.status_code)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", counted
    finally:
        server.shutdown()
        server.server_close()
        client.close()


def tree_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def sync_figures(work: Path, hello: Path, count: int) -> None:
    data = work / "registry-data"
    plugin_bytes = populate(data, hello, count)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    serve = [str(CLI), "serve", "--data-dir", str(data), "--port", str(port)]
    device = work / "device"
    selection = [Selection(NAMESPACE)]
    instance = SigstoreInstance.production()  # never used: the namespace has no signers
    with running(serve, f"{url}/healthz", "clawft-registry serve", work / "serve.log"):
        pin_root(device / ".tuf", (data / "tuf" / "1.root.json").read_bytes())
        with counting_proxy(url) as (proxy, counted):
            started = time.perf_counter()
            summary = sync(
                device, selection, instance=instance, registry_url=proxy, allow_unsigned=True
            )
            proxied_s = time.perf_counter() - started
        added = len(summary.changes)
        assert added == count and not summary.of(ChangeKind.FAILED), summary.changes[:3]
        metadata = sum(size for path, _s, size in counted.requests if "/tuf/metadata/" in path)
        targets = sum(size for path, _s, size in counted.requests if "/tuf/targets/" in path)
        target_paths = [path for path, _s, _b in counted.requests if "/tuf/targets/" in path]

        # The same sync straight to the server (no proxy), timed, into a fresh device.
        fresh = work / "device-2"
        pin_root(fresh / ".tuf", (data / "tuf" / "1.root.json").read_bytes())
        started = time.perf_counter()
        sync(fresh, selection, instance=instance, registry_url=url, allow_unsigned=True)
        sync_s = time.perf_counter() - started

        # The same files, plain GETs on one connection, written to disk: no TUF.
        plain = work / "plain"
        plain.mkdir()
        started = time.perf_counter()
        with httpx.Client(base_url=url, timeout=30) as client:
            for n, path in enumerate(target_paths):
                response = client.get(path)
                response.raise_for_status()
                (plain / str(n)).write_bytes(response.content)
        plain_s = time.perf_counter() - started

        # Nothing new: what a device on a timer fetches.
        with counting_proxy(url) as (proxy, idle):
            started = time.perf_counter()
            again = sync(
                device, selection, instance=instance, registry_url=proxy, allow_unsigned=True
            )
            idle_s = time.perf_counter() - started
        assert not again.changed
    print(f"sync of {count:,} approved plugins from empty (TUF only: no signers, no precompile)")
    print(
        f"  metadata  {metadata:>12,} bytes   targets {targets:>12,} bytes "
        f"(plugin files {plugin_bytes:,})   metadata/targets {metadata / targets:.2f}"
    )
    print(
        f"  time      sync {sync_s:.2f} s   plain GETs of the same {len(target_paths):,} files "
        f"{plain_s:.2f} s   ratio {sync_s / plain_s:.2f}x   (through the counting proxy "
        f"{proxied_s:.2f} s)"
    )
    print("no-change sync (a device on a timer)")
    for path, status, size in idle.requests:
        print(f"  GET {path:<40} {status}  {size:>6,} bytes")
    print(
        f"  {len(idle.requests)} requests, {idle.bytes:,} bytes, {idle_s * 1000:.0f} ms   "
        "(TUF minimum: 2 requests, the next-root probe and the timestamp; no target bytes)"
    )


# -- 3: re-signing one approval in a large repository -------------------------------------


def resign_figures(work: Path, small: int, large: int, bin_counts: list[int]) -> None:
    print("re-signing one approval (list it, sign its bins, snapshot, timestamp, commit)")
    for bins in bin_counts:
        new_version: dict[int, tuple[int, float]] = {}
        for versions in (small, large):
            approvals, everything, setup = _approvals(
                work / f"resign-{versions}-{bins}", versions, bins
            )
            print(
                f"  {versions:>7,} versions, {bins:>5,} bins   (one index of everything: "
                f"{everything:,} bytes; signing the whole repository took {setup:.1f} s)"
            )
            for what, signed_bins, re_signed, seconds in approvals:
                print(
                    f"    {what:<34} {len(signed_bins)} bin(s) + snapshot + timestamp, "
                    f"{re_signed:>9,} bytes in {seconds * 1000:6.0f} ms"
                )
            new_version[versions] = approvals[-1][2], approvals[-1][3]
        (small_bytes, small_s), (large_bytes, large_s) = new_version[small], new_version[large]
        print(
            f"  a new version, {bins:,} bins, {large:,} against {small:,} versions: bytes "
            f"{large_bytes / small_bytes:.2f}x, time {large_s / small_s:.2f}x"
        )


@dataclass(frozen=True)
class _Signed:
    roles: dict[tuple[str, int], int]
    """(role, version) → bytes, of every metadata row."""

    def newer_than(self, before: _Signed) -> list[tuple[str, int]]:
        return [
            (role, size) for (role, v), size in self.roles.items() if (role, v) not in before.roles
        ]


def _signed(db: Database) -> _Signed:
    with db.session() as session:
        rows = session.execute(
            sa.select(TufMetadata.role, TufMetadata.version, sa.func.length(TufMetadata.body))
        ).all()
    return _Signed({(role, version): size for role, version, size in rows})


def _approvals(
    data: Path, versions: int, bins: int
) -> tuple[list[tuple[str, list[str], int, float]], int, float]:
    """Sign a generated repository of ``versions``, then approve a new plugin's first version
    and its second one, each listed, signed and committed as the verifier's verdict does."""
    settings = RegistrySettings.from_env(
        {"CLAWFT_DATA_DIR": str(data), "CLAWFT_TUF_BINS": str(bins)}
    )
    data.mkdir(parents=True)
    db = Database(settings.database)
    upgrade(db.engine)
    keys = RepositoryKeys(
        online=CryptoSigner.generate_ed25519(),
        root=CryptoSigner.generate_ed25519(),
        targets=CryptoSigner.generate_ed25519(),
    )
    with db.session() as session:
        create_repository(session, keys, settings.tuf)
        succinct = succinct_roles(session)
        session.execute(sa.insert(TufTarget), list(_generated_targets(versions, succinct)))
    started = time.perf_counter()
    with db.session() as session:
        publish_changes(session, keys, settings.tuf)
    setup = time.perf_counter() - started
    with db.session() as session:
        publisher = Publisher(name="newcomer")
        namespace = Namespace(name="newcomer", owner=publisher)
        plugin = Plugin(namespace=namespace, name="weather")
        session.add_all([publisher, namespace, plugin])
        session.flush()
        ids = (publisher.id, plugin.id)
    approvals = []
    for what, number in (("first version of a new plugin", "1.0.0"), ("a new version", "1.1.0")):
        before = _signed(db)
        started = time.perf_counter()
        with db.session() as session:
            version = PluginVersion(
                plugin_id=ids[1],
                version=number,
                status="approved",
                verdict_at=utcnow(),
                component_filename="weather.wasm",
                component_sha256=hashlib.sha256(number.encode()).hexdigest(),
                component_size=6000,
                manifest_sha256="b" * 64,
                manifest_size=300,
                bundle_sha256="c" * 64,
                bundle_size=4000,
                manifest={},
                report="{}",
                published_by_id=ids[0],
            )
            session.add(version)
            session.flush()
            list_version(session, version)
            published = publish_changes(session, keys, settings.tuf)
        seconds = time.perf_counter() - started
        new = _signed(db).newer_than(before)
        assert {role for role, _ in new} == {*published.bins, "snapshot", "timestamp"}, new
        approvals.append((what, published.bins, sum(size for _, size in new), seconds))
    newest: dict[str, tuple[int, int]] = {}
    for (role, v), size in _signed(db).roles.items():
        if role.startswith("bins-") and v >= newest.get(role, (0, 0))[0]:
            newest[role] = (v, size)
    db.dispose()
    return approvals, sum(size for _v, size in newest.values()), setup


def _generated_targets(versions: int, bins: Any) -> Iterator[dict[str, Any]]:
    """The target rows of ``versions`` approved versions (10 per plugin, 100 plugins per
    namespace): component, manifest and bundle, and each plugin's index, all in the plugin's
    bin as the registry places them. (The paths carry salt 0 rather than the one that lands
    in that bin: a salt search per row would take longer than the benchmark; a path's bytes
    are what counts here.)"""
    plugins = max(1, versions // VERSIONS_PER_PLUGIN)
    for p in range(plugins):
        namespace, name = f"ns-{p // 100:04d}", f"plugin-{p:06d}"
        home = bins.get_role_for_target(plugin_index_path(namespace, name))
        entries = []
        for v in range(min(VERSIONS_PER_PLUGIN, versions)):
            number = f"1.{v}.0"
            files = {}
            for part, filename, length in (
                (TargetPart.COMPONENT, f"{name}.wasm", 6000),
                (TargetPart.MANIFEST, "clawft-plugin.toml", 300),
                (TargetPart.BUNDLE, f"{name}.wasm.sigstore.json", 4000),
            ):
                path = f"plugins/{namespace}/{name}/{number}/0/{filename}"
                files[part] = path
                custom = TargetCustom(
                    plugin=f"{namespace}/{name}",
                    version=number,
                    part=part,
                    manifest_sha256=hashlib.sha256(f"m{p}.{v}".encode()).hexdigest(),
                    report_sha256=hashlib.sha256(f"r{p}.{v}".encode()).hexdigest(),
                )
                yield _row(path, home, length, {CUSTOM_KEY: msgspec.to_builtins(custom)})
            entries.append(
                IndexedVersion(version=number, yanked=False, files=files, report_sha256="0" * 64)
            )
        index = msgspec.json.encode(PluginIndex(plugin=f"{namespace}/{name}", versions=entries))
        path = plugin_index_path(namespace, name)
        yield _row(path, home, len(index), {CUSTOM_KEY: {"document": "index"}}, index)


def _row(
    path: str, bin_name: str, length: int, custom: dict[str, Any], content: bytes | None = None
) -> dict[str, Any]:
    return {
        "path": path,
        "bin": bin_name,
        "length": length,
        "sha256": hashlib.sha256(path.encode()).hexdigest(),
        "custom": custom,
        "content": content,
        "dirty": True,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plugins", type=int, default=1000)
    parser.add_argument("--large", type=int, default=100_000)
    parser.add_argument("--small", type=int, default=100)
    parser.add_argument(
        "--large-bins",
        type=int,
        default=4096,
        help="also sign both repositories with this many bins (the set-up choice for the large)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        hello = build_examples(work / "plugins")["hello"]
        sync_figures(work, hello, args.plugins)
        resign_figures(work, args.small, args.large, [256, args.large_bins])
        shutil.rmtree(work / "plugins", ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

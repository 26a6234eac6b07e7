"""The attacks of the TUF specification on `sync`, each refused with the installed set
untouched: metadata rollback, indefinite freeze, mix-and-match, arbitrary package, endless
data, a malicious mirror; and what a compromised registry (its online key included, its
offline keys not) can try: a forged signer policy, rolling a plugin back, a plugin signed by
someone the policy does not name.

A device first syncs ``clawft/hello`` 0.1.0 honestly; then the attacker sits between it and the
registry (an HTTP proxy on 127.0.0.1 that rewrites answers) or acts as the registry.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec
import pytest
import sqlalchemy as sa
from tuf.api.metadata import Metadata, Snapshot, Timestamp

from client.sync import (
    STATE_DIR,
    ChangeKind,
    RepositoryUntrusted,
    pin_root,
    sync,
)
from client.sync.schemas import CUSTOM_KEY, PolicySigner, SignerPolicy
from client.sync.selection import parse_selection
from registry.db import Namespace, TrustedSigner, TufMetadata, TufTarget
from registry.tuf.mirror import write_mirror
from registry.tuf.repository import publish_changes
from tests.conftest import RunningAuthority
from tests.integration.registry.harness import Registry, publish, variant
from tests.integration.registry.tuf_harness import Attacker, resign, snapshot_of, sync_via


@pytest.fixture
def synced(
    registry: Registry, built: dict[str, Path], dev_authority: RunningAuthority, tmp_path: Path
) -> Path:
    """A device that runs clawft/hello 0.1.0, synced honestly."""
    with registry.client() as client:
        publish(client, variant(built, dev_authority, tmp_path / "src", version="0.1.0"))
    registry.verify_queued()
    dest = tmp_path / "device"
    pin_root(dest / STATE_DIR, (registry.data_dir / "tuf" / "1.root.json").read_bytes())
    summary = sync_via(registry.url, dest, dev_authority)
    assert [c.kind for c in summary.changes] == [ChangeKind.ADDED]
    return dest


def newer_version(
    registry: Registry, built: dict[str, Path], authority: RunningAuthority, tmp_path: Path
) -> None:
    """The registry approves clawft/hello 0.2.0 (new metadata everywhere)."""
    with registry.client() as client:
        publish(client, variant(built, authority, tmp_path / "src2", version="0.2.0"))
    registry.verify_queued()


def latest(registry: Registry, role: str, back: int = 0) -> bytes:
    with registry.services.db.session() as session:
        body = session.scalar(
            sa.select(TufMetadata.body)
            .where(TufMetadata.role == role)
            .order_by(TufMetadata.version.desc())
            .offset(back)
            .limit(1)
        )
    assert body is not None
    return body


def refused(attacker: Attacker, dest: Path, authority: RunningAuthority, words: str) -> None:
    before = snapshot_of(dest)
    with pytest.raises(RepositoryUntrusted, match=words):
        sync_via(attacker.url, dest, authority)
    assert snapshot_of(dest) == before


# -- the attacks of the specification ----------------------------------------------------


def test_metadata_rollback_is_refused(
    registry: Registry,
    attacker: Attacker,
    synced: Path,
    built: dict[str, Path],
    dev_authority: RunningAuthority,
    tmp_path: Path,
) -> None:
    newer_version(registry, built, dev_authority, tmp_path)
    assert snapshot_of(synced)[1] == {"clawft/hello": "0.1.0"}
    sync_via(registry.url, synced, dev_authority)  # the device saw the newer timestamp
    old = latest(registry, Timestamp.type, back=1)
    attacker.rewrites.append(lambda path, _: old if path.endswith("/timestamp.json") else None)
    refused(attacker, synced, dev_authority, "BadVersionNumberError: New timestamp version")


def test_an_expired_timestamp_is_refused(
    registry: Registry, attacker: Attacker, synced: Path, dev_authority: RunningAuthority
) -> None:
    def expire(md: Metadata) -> None:
        md.signed.version += 1
        md.signed.expires = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)

    frozen = resign(registry, latest(registry, Timestamp.type), expire)
    attacker.rewrites.append(lambda path, _: frozen if path.endswith("/timestamp.json") else None)
    refused(attacker, synced, dev_authority, "ExpiredMetadataError: timestamp.json is expired")


def test_mix_and_match_is_refused(
    registry: Registry,
    attacker: Attacker,
    synced: Path,
    built: dict[str, Path],
    dev_authority: RunningAuthority,
    tmp_path: Path,
) -> None:
    newer_version(registry, built, dev_authority, tmp_path)
    current = Metadata[Timestamp].from_bytes(latest(registry, Timestamp.type))
    wanted = current.signed.snapshot_meta.version
    older = latest(registry, Snapshot.type, back=1)  # a real, signed, older snapshot
    attacker.rewrites.append(
        lambda path, _: older if path.endswith(f"/{wanted}.snapshot.json") else None
    )
    refused(attacker, synced, dev_authority, "BadVersionNumberError: Expected snapshot version")


def test_an_arbitrary_package_is_refused(
    registry: Registry,
    attacker: Attacker,
    synced: Path,
    built: dict[str, Path],
    dev_authority: RunningAuthority,
    tmp_path: Path,
) -> None:
    newer_version(registry, built, dev_authority, tmp_path)

    def swap(path: str, body: bytes) -> bytes | None:
        return body[:-1] + bytes([body[-1] ^ 1]) if path.endswith(".hello.wasm") else None

    attacker.rewrites.append(swap)
    refused(attacker, synced, dev_authority, "LengthOrHashMismatchError")


def test_endless_metadata_is_refused(
    registry: Registry, attacker: Attacker, synced: Path, dev_authority: RunningAuthority
) -> None:
    endless = b"{" + b" " * 5_000_000
    attacker.rewrites.append(lambda path, _: endless if path.endswith("/timestamp.json") else None)
    refused(attacker, synced, dev_authority, "DownloadLengthMismatchError")


def test_endless_target_data_is_refused(
    registry: Registry,
    attacker: Attacker,
    synced: Path,
    built: dict[str, Path],
    dev_authority: RunningAuthority,
    tmp_path: Path,
) -> None:
    newer_version(registry, built, dev_authority, tmp_path)
    attacker.rewrites.append(
        lambda path, body: body + b"\0" * 10_000_000 if path.endswith(".hello.wasm") else None
    )
    refused(attacker, synced, dev_authority, "DownloadLengthMismatchError")


def test_a_malicious_mirror_is_refused(
    registry: Registry,
    synced: Path,
    built: dict[str, Path],
    dev_authority: RunningAuthority,
    tmp_path: Path,
) -> None:
    newer_version(registry, built, dev_authority, tmp_path)
    mirror = tmp_path / "mirror"
    write_mirror(registry.services.db, registry.services.blobs, mirror)
    (component,) = mirror.glob("targets/plugins/clawft/hello/0.2.0/*/*.hello.wasm")
    component.write_bytes(component.read_bytes()[:-1] + b"\0")
    before = snapshot_of(synced)
    with pytest.raises(RepositoryUntrusted, match="LengthOrHashMismatchError"):
        sync(
            synced,
            [parse_selection("clawft")],
            instance=dev_authority.instance,
            mirror=mirror,
        )
    assert snapshot_of(synced) == before


def test_an_honest_mirror_syncs_an_air_gapped_device(
    registry: Registry,
    synced: Path,
    built: dict[str, Path],
    dev_authority: RunningAuthority,
    tmp_path: Path,
) -> None:
    newer_version(registry, built, dev_authority, tmp_path)
    mirror = tmp_path / "usb"
    written = write_mirror(registry.services.db, registry.services.blobs, mirror)
    assert written.target_files >= 8  # two versions' files, two indexes, the policy
    summary = sync(
        synced, [parse_selection("clawft")], instance=dev_authority.instance, mirror=mirror
    )
    assert [(c.kind, c.version) for c in summary.changes] == [(ChangeKind.UPDATED, "0.2.0")]


# -- a compromised registry: the online key, not the offline ones -------------------------


def test_a_signer_policy_forged_with_the_online_key_is_ignored(
    registry: Registry,
    synced: Path,
    built: dict[str, Path],
    dev_authority: RunningAuthority,
    tmp_path: Path,
) -> None:
    """The server lists a policy naming mallory in a hash bin (it holds the bins' key) and
    approves her plugin; the device reads policies from the top-level targets only."""
    from client.signing import sign_plugin

    forged = SignerPolicy(
        namespace="clawft", signers=[PolicySigner("mallory@example.com", dev_authority.issuer)]
    )
    content = msgspec.json.encode(forged)
    with registry.services.db.session() as session:
        namespace = session.scalar(sa.select(Namespace).where(Namespace.name == "clawft"))
        assert namespace is not None
        session.add(
            TrustedSigner(
                namespace_id=namespace.id,
                identity="mallory@example.com",
                issuer=dev_authority.issuer,
            )
        )
        # The real policy's row is the top-level targets' (bin "targets"): the forgery takes
        # its path into a hash bin, signed with the online key.
        row = session.get(TufTarget, "policy/clawft.json")
        assert row is not None
        row.bin, row.content, row.length = None, content, len(content)
        row.sha256 = hashlib.sha256(content).hexdigest()
        row.custom = {CUSTOM_KEY: msgspec.to_builtins(forged)}
        row.dirty, row.revision = True, row.revision + 1
    plugin = variant(built, dev_authority, tmp_path / "evil", version="0.3.0")
    sign_plugin(
        plugin,
        instance=dev_authority.instance,
        identity_token=dev_authority.token("mallory@example.com"),
    )
    with registry.client() as client:
        publish(client, plugin)
    registry.verify_queued()
    before = snapshot_of(synced)
    summary = sync_via(registry.url, synced, dev_authority)
    (failed,) = summary.of(ChangeKind.FAILED)
    assert "does not verify against the signer policy" in failed.reason
    assert snapshot_of(synced) == before


def test_a_plugin_version_cannot_be_rolled_back(
    registry: Registry,
    synced: Path,
    built: dict[str, Path],
    dev_authority: RunningAuthority,
    tmp_path: Path,
) -> None:
    """The device runs 0.2.0; the server re-signs the plugin's index without it (the bins'
    key suffices): the device keeps 0.2.0 and says why."""
    newer_version(registry, built, dev_authority, tmp_path)
    sync_via(registry.url, synced, dev_authority)
    assert snapshot_of(synced)[1] == {"clawft/hello": "0.2.0"}
    with registry.services.db.session() as session:
        row = session.get(TufTarget, "index/clawft/hello.json")
        assert row is not None and row.content is not None
        index = msgspec.json.decode(row.content)
        index["versions"] = [v for v in index["versions"] if v["version"] != "0.2.0"]
        content = msgspec.json.encode(index)
        row.content, row.length = content, len(content)
        row.sha256 = hashlib.sha256(content).hexdigest()
        row.dirty, row.revision = True, row.revision + 1
        publish_changes(session, registry.tuf.keys, registry.tuf.settings)
    before = snapshot_of(synced)
    summary = sync_via(registry.url, synced, dev_authority)
    (failed,) = summary.of(ChangeKind.FAILED)
    assert "no longer lists 0.2.0" in failed.reason
    assert snapshot_of(synced) == before


def test_a_target_outside_the_signed_metadata_is_not_fetched(
    registry: Registry, attacker: Attacker, synced: Path, dev_authority: RunningAuthority
) -> None:
    """A plugin the metadata does not list cannot be selected into existence."""
    summary = sync_via(attacker.url, synced, dev_authority, "clawft", "clawft/backdoor")
    (failed,) = summary.of(ChangeKind.FAILED)
    assert failed.reason == "the repository lists no such plugin"
    assert snapshot_of(synced)[1] == {"clawft/hello": "0.1.0"}

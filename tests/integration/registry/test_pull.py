"""`pull` takes the path `sync` takes: the version and who may sign it from the TUF metadata,
proved against a pinned root, never fetched on first use; signers pinned locally narrow the
policy; names in signed metadata are checked before they become paths."""

from __future__ import annotations

import hashlib
from pathlib import Path

import msgspec
import pytest

from client.registry import DownloadRejected, pull
from client.signing import TrustedPublisher
from client.sync import RootNotPinned
from registry.db import TufTarget
from registry.tuf.repository import publish_changes
from tests.conftest import ALICE, RunningAuthority
from tests.integration.registry.harness import Registry, publish, signed


@pytest.fixture
def approved_hello(
    registry: Registry, built: dict[str, Path], dev_authority: RunningAuthority, tmp_path: Path
) -> None:
    with registry.client() as client:
        publish(client, signed(built, "hello", dev_authority, tmp_path / "src"))
    registry.verify_queued()


def test_pull_installs_what_the_signed_metadata_proves(
    registry: Registry, approved_hello: None, dev_authority: RunningAuthority, tmp_path: Path
) -> None:
    installed = registry.pull("clawft/hello", tmp_path / "plugins", instance=dev_authority.instance)
    assert (installed.name, installed.version, installed.yanked) == ("clawft/hello", "0.1.0", False)
    assert installed.signer == f"{ALICE} ({dev_authority.issuer})"
    assert set(installed.metadata) == {"root", "timestamp", "snapshot", "targets"}
    assert sorted(p.name for p in installed.directory.iterdir()) == [
        "clawft-plugin.toml",
        "hello.wasm",
        "hello.wasm.sigstore.json",
    ]


def test_without_a_pinned_root_nothing_is_fetched(
    registry: Registry, approved_hello: None, dev_authority: RunningAuthority, tmp_path: Path
) -> None:
    with pytest.raises(RootNotPinned, match=r"sync init|trust"):
        pull(
            "clawft/hello",
            tmp_path / "plugins",
            trust=tmp_path / "empty-trust",
            instance=dev_authority.instance,
            registry_url=registry.url,
        )
    assert not (tmp_path / "plugins").exists()


def test_signers_pinned_locally_narrow_the_policy(
    registry: Registry, approved_hello: None, dev_authority: RunningAuthority, tmp_path: Path
) -> None:
    someone = TrustedPublisher(identity="someone@example.com", issuer=dev_authority.issuer)
    with pytest.raises(DownloadRejected, match="none of the signers you pinned"):
        registry.pull(
            "clawft/hello", tmp_path / "a", instance=dev_authority.instance, publishers=[someone]
        )
    assert not (tmp_path / "a").exists()
    alice = TrustedPublisher(identity=ALICE, issuer=dev_authority.issuer)
    installed = registry.pull(
        "clawft/hello", tmp_path / "b", instance=dev_authority.instance, publishers=[alice]
    )
    assert installed.signer == f"{ALICE} ({dev_authority.issuer})"


@pytest.mark.parametrize(
    ("version", "component", "reason"),
    [
        ("../../../escaped", None, "has no approved version"),
        ("0.1.0", "plugins/clawft/hello/0.1.0/../../x.wasm", "the signed metadata lists no"),
    ],
)
def test_names_in_a_signed_index_are_checked_before_they_become_paths(
    registry: Registry,
    approved_hello: None,
    dev_authority: RunningAuthority,
    tmp_path: Path,
    version: str,
    component: str | None,
    reason: str,
) -> None:
    """A registry holding the online key signs an index naming a hostile version or file."""
    with registry.services.db.session() as session:
        row = session.get(TufTarget, "index/clawft/hello.json")
        assert row is not None and row.content is not None
        index = msgspec.json.decode(row.content)
        index["versions"][0]["version"] = version
        if component is not None:
            index["versions"][0]["files"]["component"] = component
        content = msgspec.json.encode(index)
        row.content, row.length = content, len(content)
        row.sha256 = hashlib.sha256(content).hexdigest()
        row.dirty, row.revision = True, row.revision + 1
        publish_changes(session, registry.tuf.keys, registry.tuf.settings)
    work = tmp_path / "work"
    with pytest.raises(DownloadRejected, match=reason):
        registry.pull("clawft/hello", work / "plugins", instance=dev_authority.instance)
    assert not work.exists()

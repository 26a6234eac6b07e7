"""The registry's TUF repository, read by python-tuf's own client (ngclient) over HTTP: an
approval lists the version's files and its plugin's index, all signed into one hash bin, the
snapshot and the timestamp; a yank changes the index; signer policies sit in the top-level
targets, which only the offline key signs."""

from __future__ import annotations

import hashlib
from pathlib import Path

import msgspec
import pytest
import sqlalchemy as sa
from tuf.api.metadata import Metadata, Targets
from tuf.ngclient import Updater

from client.sync.schemas import (
    CUSTOM_KEY,
    NamespaceIndex,
    PluginIndex,
    SignerPolicy,
    TargetCustom,
    TargetPart,
)
from registry.db import TufMetadata
from tests.conftest import ALICE, RunningAuthority
from tests.integration.registry.harness import Registry, publish, signed, variant


def updater(registry: Registry, where: Path) -> Updater:
    metadata, targets = where / "metadata", where / "targets"
    metadata.mkdir(parents=True, exist_ok=True)
    targets.mkdir(parents=True, exist_ok=True)
    return Updater(
        metadata_dir=str(metadata),
        metadata_base_url=f"{registry.url}/tuf/metadata/",
        target_dir=str(targets),
        target_base_url=f"{registry.url}/tuf/targets/",
        bootstrap=(registry.data_dir / "tuf" / "1.root.json").read_bytes(),
    )


def fetch(client: Updater, path: str) -> bytes:
    info = client.get_targetinfo(path)
    assert info is not None, f"{path} is not in the signed metadata"
    return Path(client.download_target(info)).read_bytes()


def latest_versions(registry: Registry) -> dict[str, int]:
    with registry.services.db.session() as session:
        rows = session.execute(
            sa.select(TufMetadata.role, sa.func.max(TufMetadata.version)).group_by(TufMetadata.role)
        )
        return {role: int(version) for role, version in rows}


def test_an_approved_plugin_is_listed_signed_and_served(
    registry: Registry, built: dict[str, Path], dev_authority: RunningAuthority, tmp_path: Path
) -> None:
    before = latest_versions(registry)
    plugin = signed(built, "hello", dev_authority, tmp_path / "src")
    with registry.client() as client:
        publish(client, plugin)
    registry.verify_queued()
    after = latest_versions(registry)
    resigned = sorted(role for role, version in after.items() if version != before.get(role))
    bins = [role for role in resigned if role.startswith("bins-")]
    # The plugin's bin (component, manifest, bundle, plugin index) and, for a first version,
    # the namespace index's; then the snapshot and the timestamp; never the top-level targets.
    assert 1 <= len(bins) <= 2
    assert sorted(set(resigned) - set(bins)) == ["snapshot", "timestamp"]

    tuf = updater(registry, tmp_path / "device")
    tuf.refresh()
    index = msgspec.json.decode(fetch(tuf, "index/clawft/hello.json"), type=PluginIndex)
    assert index.plugin == "clawft/hello"
    (entry,) = index.versions
    assert (entry.version, entry.yanked) == ("0.1.0", False)
    assert set(entry.files) == {TargetPart.COMPONENT, TargetPart.MANIFEST, TargetPart.BUNDLE}
    component = fetch(tuf, entry.files[TargetPart.COMPONENT])
    assert component == (plugin / "hello.wasm").read_bytes()
    info = tuf.get_targetinfo(entry.files[TargetPart.COMPONENT])
    assert info is not None
    custom = msgspec.convert(info.custom[CUSTOM_KEY], TargetCustom)
    assert (custom.plugin, custom.version, custom.part) == ("clawft/hello", "0.1.0", "component")
    assert (
        custom.manifest_sha256
        == hashlib.sha256((plugin / "clawft-plugin.toml").read_bytes()).hexdigest()
    )
    report = registry.services.db
    with report.session() as session:
        from registry.db import PluginVersion

        stored = session.scalar(sa.select(PluginVersion.report))
    assert stored is not None
    assert custom.report_sha256 == hashlib.sha256(stored.encode()).hexdigest()
    namespace = msgspec.json.decode(fetch(tuf, "index/clawft.json"), type=NamespaceIndex)
    assert namespace.plugins == ["hello"]

    # The signer policy is in the top-level targets, signed by the offline targets key.
    targets = Metadata[Targets].from_file(str(tmp_path / "device" / "metadata" / "targets.json"))
    policy = msgspec.convert(
        targets.signed.targets["policy/clawft.json"].custom[CUSTOM_KEY], SignerPolicy
    )
    assert [(s.identity, s.issuer) for s in policy.signers] == [(ALICE, dev_authority.issuer)]


def test_a_new_version_re_signs_one_bin_holding_all_its_files(
    registry: Registry, built: dict[str, Path], dev_authority: RunningAuthority, tmp_path: Path
) -> None:
    with registry.client() as client:
        publish(client, signed(built, "hello", dev_authority, tmp_path / "one"))
        registry.verify_queued()
        before = latest_versions(registry)
        publish(client, variant(built, dev_authority, tmp_path / "two", version="0.2.0"))
    registry.verify_queued()
    after = latest_versions(registry)
    resigned = sorted(role for role, version in after.items() if version != before.get(role))
    (bin_name,) = [role for role in resigned if role.startswith("bins-")]
    assert sorted(set(resigned) - {bin_name}) == ["snapshot", "timestamp"]

    tuf = updater(registry, tmp_path / "device")
    tuf.refresh()
    index = msgspec.json.decode(fetch(tuf, "index/clawft/hello.json"), type=PluginIndex)
    assert [entry.version for entry in index.versions] == ["0.1.0", "0.2.0"]
    bins = Metadata[Targets].from_file(str(tmp_path / "device" / "metadata" / "targets.json"))
    succinct = bins.signed.delegations.succinct_roles  # type: ignore[union-attr]
    assert succinct is not None
    for entry in index.versions:
        for path in entry.files.values():
            assert succinct.get_role_for_target(path) == bin_name, path
            assert fetch(tuf, path)


def test_a_yank_changes_only_the_index(
    registry: Registry, built: dict[str, Path], dev_authority: RunningAuthority, tmp_path: Path
) -> None:
    plugin = signed(built, "hello", dev_authority, tmp_path / "src")
    with registry.client() as client:
        publish(client, plugin)
        registry.verify_queued()
        before = latest_versions(registry)
        client.yank("clawft/hello", "0.1.0", "broken")
    registry.settle_tuf()
    after = latest_versions(registry)
    resigned = sorted(role for role, version in after.items() if version != before.get(role))
    assert len([r for r in resigned if r.startswith("bins-")]) == 1
    tuf = updater(registry, tmp_path / "device")
    tuf.refresh()
    index = msgspec.json.decode(fetch(tuf, "index/clawft/hello.json"), type=PluginIndex)
    assert [(v.version, v.yanked) for v in index.versions] == [("0.1.0", True)]


@pytest.mark.parametrize("registry", ["embedded"], indirect=True)
def test_metadata_and_targets_are_served_as_immutable_files(
    registry: Registry, built: dict[str, Path], dev_authority: RunningAuthority, tmp_path: Path
) -> None:
    import httpx

    root = httpx.get(f"{registry.url}/tuf/metadata/1.root.json")
    assert root.status_code == 200
    assert root.content == (registry.data_dir / "tuf" / "1.root.json").read_bytes()
    assert "immutable" in root.headers["cache-control"]
    timestamp = httpx.get(f"{registry.url}/tuf/metadata/timestamp.json")
    assert timestamp.status_code == 200 and timestamp.headers["cache-control"] == "no-cache"
    for name in ("snapshot.json", "0.root.json", "1.root", "../1.root.json", "1.Root.json"):
        answer = httpx.get(f"{registry.url}/tuf/metadata/{name}")
        assert answer.status_code == 404, name
        assert answer.json()["error"] == "not_found"
    for path in (
        "plugins/clawft/hello/0.1.0/hello.wasm",
        "plugins/clawft/hello/0.1.0/" + "0" * 64 + ".hello.wasm",
        "../" + "0" * 64 + ".x",
        "index/" + "A" * 64 + ".clawft.json",
    ):
        answer = httpx.get(f"{registry.url}/tuf/targets/{path}")
        assert answer.status_code == 404, path

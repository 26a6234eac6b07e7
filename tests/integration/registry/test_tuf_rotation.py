"""Key rotation: devices that were offline across rotations of the online key, the targets
key and the root key sync again; and rotating the online key recovers devices from a
fast-forward attack made with the old one. Each test has its own production stack (its worker
must load the rotated key), or the embedded registry."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from tuf.api.metadata import Metadata, Timestamp

from client.sync import STATE_DIR, ChangeKind, RepositoryUntrusted, pin_root
from registry.db import TufMetadata
from registry.tuf.keys import RepositoryKeys, create_key_file
from registry.tuf.rotation import rotate_online_key, rotate_root_key, rotate_targets_key
from registry.tuf.tasks import TufServices
from tests.conftest import RunningAuthority
from tests.integration.registry.harness import Registry, publish, variant
from tests.integration.registry.tuf_harness import Attacker, resign, snapshot_of, sync_via

OWN_WORKER = pytest.mark.worker_env({})


def device_with_hello(
    registry: Registry, built: dict[str, Path], authority: RunningAuthority, tmp_path: Path
) -> Path:
    with registry.client() as client:
        publish(client, variant(built, authority, tmp_path / "src", version="0.1.0"))
    registry.verify_queued()
    dest = tmp_path / "device"
    pin_root(dest / STATE_DIR, (registry.data_dir / "tuf" / "1.root.json").read_bytes())
    sync_via(registry.url, dest, authority)
    assert snapshot_of(dest)[1] == {"clawft/hello": "0.1.0"}
    return dest


def use_online_key(registry: Registry, keys: RepositoryKeys, new_key_file: Path) -> None:
    """What the operator does after rotating: put the new key where the workers read it, and
    restart them."""
    online = registry.data_dir / "tuf" / "online.pem"
    online.write_bytes(new_key_file.read_bytes())
    registry.tuf = TufServices(registry.tuf.db, keys, registry.tuf.settings)
    if registry.workers is not None:
        registry.workers.kill()
        registry.workers.start()


def release(
    registry: Registry,
    built: dict[str, Path],
    authority: RunningAuthority,
    tmp_path: Path,
    version: str,
) -> None:
    with registry.client() as client:
        publish(client, variant(built, authority, tmp_path / f"src-{version}", version=version))
    registry.verify_queued(timeout_s=120)


def root_version(dest: Path) -> int:
    return Metadata.from_file(str(dest / STATE_DIR / "metadata" / "root.json")).signed.version


@OWN_WORKER
def test_a_device_offline_across_an_online_key_rotation_syncs(
    registry: Registry, built: dict[str, Path], dev_authority: RunningAuthority, tmp_path: Path
) -> None:
    dest = device_with_hello(registry, built, dev_authority, tmp_path)
    new_file = tmp_path / "new-online.pem"
    new = create_key_file(new_file)
    with registry.services.db.session() as session:
        assert rotate_online_key(session, registry.tuf.keys, registry.tuf.settings, new) == 2
    keys = RepositoryKeys(
        online=new, root=registry.tuf.keys.root, targets=registry.tuf.keys.targets
    )
    use_online_key(registry, keys, new_file)
    release(registry, built, dev_authority, tmp_path, "0.2.0")
    summary = sync_via(registry.url, dest, dev_authority)
    assert [(c.kind, c.version) for c in summary.changes] == [(ChangeKind.UPDATED, "0.2.0")]
    assert root_version(dest) == 2


@pytest.mark.parametrize("registry", ["embedded"], indirect=True)
def test_a_device_offline_across_root_and_targets_rotations_syncs(
    registry: Registry, built: dict[str, Path], dev_authority: RunningAuthority, tmp_path: Path
) -> None:
    dest = device_with_hello(registry, built, dev_authority, tmp_path)
    keys = registry.tuf.keys
    with registry.services.db.session() as session:
        second = create_key_file(tmp_path / "root-2.pem")
        assert rotate_root_key(session, keys, registry.tuf.settings, second) == 2
        third = create_key_file(tmp_path / "root-3.pem")
        keys = RepositoryKeys(online=keys.online, root=second, targets=keys.targets)
        assert rotate_root_key(session, keys, registry.tuf.settings, third) == 3
        targets = create_key_file(tmp_path / "targets-2.pem")
        keys = RepositoryKeys(online=keys.online, root=third, targets=keys.targets)
        assert rotate_targets_key(session, keys, registry.tuf.settings, targets) == 4
    release(registry, built, dev_authority, tmp_path, "0.2.0")
    summary = sync_via(registry.url, dest, dev_authority)
    assert [(c.kind, c.version) for c in summary.changes] == [(ChangeKind.UPDATED, "0.2.0")]
    assert root_version(dest) == 4


@OWN_WORKER
def test_rotating_the_online_key_recovers_from_a_fast_forward_attack(
    registry: Registry,
    attacker: Attacker,
    built: dict[str, Path],
    dev_authority: RunningAuthority,
    tmp_path: Path,
) -> None:
    """The old online key signs a timestamp of version 10**9: the device accepts it (the
    signature is good) and then refuses every honest timestamp. Rotating the key makes devices
    forget what the old key signed."""
    dest = device_with_hello(registry, built, dev_authority, tmp_path)
    with registry.services.db.session() as session:
        honest = session.scalar(
            sa.select(TufMetadata.body)
            .where(TufMetadata.role == Timestamp.type)
            .order_by(TufMetadata.version.desc())
            .limit(1)
        )
    assert honest is not None

    def fast_forward(md: Metadata) -> None:
        md.signed.version = 10**9

    forged = resign(registry, honest, fast_forward)
    attacker.rewrites.append(lambda path, _: forged if path.endswith("/timestamp.json") else None)
    sync_via(attacker.url, dest, dev_authority)  # accepted: it is signed by the online key
    release(registry, built, dev_authority, tmp_path, "0.2.0")
    with pytest.raises(RepositoryUntrusted, match="BadVersionNumberError"):
        sync_via(registry.url, dest, dev_authority)  # stuck on the forged version

    new_file = tmp_path / "new-online.pem"
    new = create_key_file(new_file)
    with registry.services.db.session() as session:
        rotate_online_key(session, registry.tuf.keys, registry.tuf.settings, new)
    keys = RepositoryKeys(
        online=new, root=registry.tuf.keys.root, targets=registry.tuf.keys.targets
    )
    use_online_key(registry, keys, new_file)
    summary = sync_via(registry.url, dest, dev_authority)
    assert [(c.kind, c.version) for c in summary.changes] == [(ChangeKind.UPDATED, "0.2.0")]

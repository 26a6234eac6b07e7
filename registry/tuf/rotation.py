"""Rotating the repository's keys: each an admin command, signed with keys the operator holds.

* The **online** key (it signs the bins, snapshot and timestamp): a new root version names
  the new key for snapshot and timestamp, the targets role delegates the bins to it, and every
  bin, the snapshot and the timestamp are signed again with it. Needs the root and targets
  keys. This is also how a compromised online key is recovered from: devices that fetch the
  new root forget the timestamp and snapshot the old key signed (TUF's fast-forward attack
  recovery), however high their versions were pushed.
* The **root** key: a new root version signed by the old root key and the new one.
* The **targets** key: a new root version naming it, and targets signed with it.

Devices that were offline across any number of rotations walk the root versions one by one
(``<n>.root.json``), each signed by the keys of the one before.
"""

from __future__ import annotations

from dataclasses import replace

from securesystemslib.signer import Signer
from sqlalchemy.orm import Session
from tuf.api.metadata import Metadata, Root, Snapshot, Targets, Timestamp
from tuf.api.serialization.json import JSONSerializer

from registry.db import TufMetadata
from registry.tuf.keys import RepositoryKeys, SigningKeyError
from registry.tuf.repository import PluginRepository, take_publish_lock
from registry.tuf.settings import TufSettings

__all__ = ["rotate_online_key", "rotate_root_key", "rotate_targets_key"]


def rotate_online_key(
    session: Session, keys: RepositoryKeys, settings: TufSettings, new_online: Signer
) -> int:
    """Replace the online key; returns the new root version. ``keys`` holds the root and
    targets keys (its online key is ignored)."""
    take_publish_lock(session)
    keys = replace(keys, online=new_online)
    repo = PluginRepository(session, keys, settings)
    new_key = new_online.public_key
    with repo.edit_root() as root:
        for role in (Snapshot.type, Timestamp.type):
            for keyid in list(root.roles[role].keyids):
                root.revoke_key(keyid, role)
            root.add_key(new_key, role)
    with repo.edit_targets() as targets:
        delegations = targets.delegations
        if delegations is None or delegations.succinct_roles is None:
            raise SigningKeyError("the targets metadata delegates to no hash bins")
        delegations.keys = {new_key.keyid: new_key}
        delegations.succinct_roles.keyids = [new_key.keyid]
    for name in repo.succinct().get_roles():
        with repo.edit_targets(name):
            pass
    repo.do_snapshot(force=True)
    repo.do_timestamp(force=True)
    return repo.latest_versions()[Root.type]


def rotate_targets_key(
    session: Session, keys: RepositoryKeys, settings: TufSettings, new_targets: Signer
) -> int:
    """Replace the targets key (``keys`` holds the root key); returns the new root version."""
    take_publish_lock(session)
    repo = PluginRepository(session, replace(keys, targets=new_targets), settings)
    with repo.edit_root() as root:
        for keyid in list(root.roles[Targets.type].keyids):
            root.revoke_key(keyid, Targets.type)
        root.add_key(new_targets.public_key, Targets.type)
    with repo.edit_targets():
        pass
    repo.do_snapshot()
    repo.do_timestamp()
    return repo.latest_versions()[Root.type]


def rotate_root_key(
    session: Session, keys: RepositoryKeys, settings: TufSettings, new_root: Signer
) -> int:
    """Replace the root key: the new root version is signed by the old key and the new one
    (so devices that trust the old root accept it). Returns the new root version."""
    if keys.root is None:
        raise SigningKeyError("rotating the root key needs the current root key")
    take_publish_lock(session)
    repo = PluginRepository(session, keys, settings)
    md: Metadata[Root] = repo.open(Root.type)
    root = md.signed
    for keyid in list(root.roles[Root.type].keyids):
        root.revoke_key(keyid, Root.type)
    root.add_key(new_root.public_key, Root.type)
    root.version += 1
    root.expires = (repo.now() + settings.root_expiry).replace(microsecond=0)
    md.signatures.clear()
    md.sign(keys.root, append=True)
    md.sign(new_root, append=True)
    session.add(
        TufMetadata(
            role=Root.type,
            version=root.version,
            body=md.to_bytes(JSONSerializer(compact=True)),
            expires_at=root.expires,
        )
    )
    session.flush()
    return root.version

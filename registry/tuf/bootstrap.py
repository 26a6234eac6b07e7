"""The TUF repository of the embedded default: created by ``serve`` on its first start, with
key files under the data directory, every namespace's signer policy, and every version already
approved (a registry that ran before TUF gets its history listed)."""

from __future__ import annotations

import logging

import sqlalchemy as sa

from registry.db import Database, PluginVersion, TufMetadata
from registry.db.models import DOWNLOADABLE
from registry.db.tuf_targets import list_version
from registry.settings import RegistrySettings
from registry.tuf.keys import RepositoryKeys, embedded_keys
from registry.tuf.policies import policy_targets
from registry.tuf.repository import create_repository, publish_changes

__all__ = ["ensure_embedded_repository", "require_repository"]

_log = logging.getLogger("clawft.registry.tuf")


def ensure_embedded_repository(settings: RegistrySettings, db: Database) -> RepositoryKeys:
    """The repository of ``serve``: created when the database has none; returns its keys."""
    keys, created_keys = embedded_keys(settings.data_dir)
    if created_keys:
        _log.warning(
            "TUF keys created: the online key is %s; the root and targets keys are in %s: "
            "take them offline (devices trust the root key; whoever holds the targets key "
            "decides who may sign each namespace)",
            settings.data_dir / "tuf" / "online.pem",
            settings.data_dir / "tuf" / "offline",
        )
    with db.session() as session:
        if session.scalar(sa.select(sa.func.count()).select_from(TufMetadata)):
            return keys
        create_repository(session, keys, settings.tuf, policy_targets(session))
        for version in session.scalars(
            sa.select(PluginVersion).where(PluginVersion.status.in_(DOWNLOADABLE))
        ):
            list_version(session, version)
        publish_changes(session, keys, settings.tuf)
    root = settings.data_dir / "tuf" / "1.root.json"
    with db.session() as session:
        body = session.get(TufMetadata, ("root", 1))
        if body is not None:
            root.write_bytes(body.body)
    _log.warning("TUF repository created; its first root (pin it on devices) is %s", root)
    return keys


def require_repository(db: Database) -> None:
    """Refuse to serve a production registry whose database holds no TUF repository: its keys
    are the operator's to make, never the server's."""
    with db.session() as session:
        if session.scalar(sa.select(sa.func.count()).select_from(TufMetadata)):
            return
    raise ValueError(
        "the database holds no TUF repository: create it once with `clawft-registry admin "
        "tuf-init` (with the root and targets keys you keep offline) before `serve` starts "
        "with a broker of your own"
    )

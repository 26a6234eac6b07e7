"""The registry's TUF repository, kept in its database: python-tuf's ``Repository`` over the
``tuf_metadata`` table, signed with the keys of :mod:`registry.tuf.keys`.

Shape (as Repository Service for TUF builds it): a root; a top-level targets role that
delegates every plugin file to succinct hash bins (``bins-00`` … , 256 by default) and itself
lists each namespace's signer policy; snapshot and timestamp. Consistent snapshots: every
metadata version and every target is its own immutable file. One approval changes a few rows
of ``tuf_targets``; :func:`publish_changes` re-signs only the bins those rows fall in, then the
snapshot and the timestamp, under one lock, batching whatever changed since its last run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from securesystemslib.signer import Signer
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from tuf.api.metadata import (
    Delegations,
    Metadata,
    MetaFile,
    Root,
    Signed,
    Snapshot,
    SuccinctRoles,
    TargetFile,
    Targets,
    Timestamp,
)
from tuf.api.serialization.json import JSONSerializer
from tuf.repository import Repository

from registry.db import TufMetadata, TufPublishLock, TufTarget
from registry.db.models import utcnow
from registry.tuf.keys import RepositoryKeys, SigningKeyError
from registry.tuf.settings import TufSettings

__all__ = [
    "BINS_PREFIX",
    "PluginRepository",
    "Published",
    "RepositoryExists",
    "RepositoryMissing",
    "create_repository",
    "publish_changes",
    "refresh_expiring",
    "succinct_roles",
    "take_publish_lock",
]

_log = logging.getLogger("clawft.registry.tuf")
BINS_PREFIX = "bins"
_SERIALIZER = JSONSerializer(compact=True)
_NEW: dict[str, Callable[[], Signed]] = {
    Root.type: Root,
    Snapshot.type: Snapshot,
    Timestamp.type: Timestamp,
}


class RepositoryExists(RuntimeError):
    """The database already holds a TUF repository."""


class RepositoryMissing(RuntimeError):
    """The database holds no TUF repository yet."""


class PluginRepository(Repository):
    """python-tuf's repository helper over one database session (one transaction): ``edit``
    bumps a role's version, sets its expiry, signs it and stores it as a new row."""

    def __init__(
        self,
        session: Session,
        keys: RepositoryKeys,
        settings: TufSettings,
        *,
        now: Callable[[], datetime] = utcnow,
    ) -> None:
        self._session = session
        self._keys = keys
        self._settings = settings
        self._now = now
        self._latest: dict[str, int] | None = None

    # -- storage ------------------------------------------------------------------------

    def latest_versions(self) -> dict[str, int]:
        """The newest version of every role."""
        if self._latest is None:
            rows = self._session.execute(
                sa.select(TufMetadata.role, sa.func.max(TufMetadata.version)).group_by(
                    TufMetadata.role
                )
            )
            self._latest = {role: int(version) for role, version in rows}
        return self._latest

    def open(self, role: str) -> Metadata[Any]:
        version = self.latest_versions().get(role)
        if version is None:
            md: Metadata[Any] = Metadata(_NEW.get(role, Targets)())
            md.signed.version = 0  # close() makes it 1
            return md
        row = self._session.get(TufMetadata, (role, version))
        if row is None:  # pragma: no cover - the version came from the same table
            raise RepositoryMissing(f"{role} version {version} vanished")
        return Metadata.from_bytes(row.body)

    def close(self, role: str, md: Metadata[Any]) -> None:
        md.signed.version += 1
        md.signed.expires = (self._now() + self._lifetime(role)).replace(microsecond=0)
        md.signatures.clear()
        for signer in self._signers(role):
            md.sign(signer, append=True)
        self._session.add(
            TufMetadata(
                role=role,
                version=md.signed.version,
                body=md.to_bytes(_SERIALIZER),
                expires_at=md.signed.expires,
            )
        )
        self._session.flush()
        self.latest_versions()[role] = md.signed.version

    @property
    def targets_infos(self) -> dict[str, MetaFile]:
        return {
            f"{role}.json": MetaFile(version)
            for role, version in self.latest_versions().items()
            if role not in (Root.type, Snapshot.type, Timestamp.type)
        }

    @property
    def snapshot_info(self) -> MetaFile:
        return MetaFile(self.latest_versions().get(Snapshot.type, 0))

    # -- keys and lifetimes -------------------------------------------------------------

    def _signers(self, role: str) -> list[Signer]:
        if role == Root.type:
            signer, what = self._keys.root, "root"
        elif role == Targets.type:
            signer, what = self._keys.targets, "targets"
        else:
            return [self._keys.online]
        if signer is None:
            raise SigningKeyError(
                f"signing {role} metadata needs the offline {what} key, which this process "
                f"does not hold: run the admin command with --{what}-key"
            )
        return [signer]

    def _lifetime(self, role: str) -> timedelta:
        settings = self._settings
        return {
            Root.type: settings.root_expiry,
            Targets.type: settings.targets_expiry,
            Snapshot.type: settings.snapshot_expiry,
            Timestamp.type: settings.timestamp_expiry,
        }.get(role, settings.bins_expiry)

    def lifetime(self, role: str) -> timedelta:
        return self._lifetime(role)

    def now(self) -> datetime:
        return self._now()

    def check_online_key(self) -> None:
        """Refuse to sign with an online key the current root no longer names (it was
        rotated: this process must load the new one)."""
        named = self.root().roles[Timestamp.type].keyids
        if self._keys.online.public_key.keyid not in named:
            raise SigningKeyError(
                "the online key this process holds is not the one the repository's root names "
                "(it was rotated): restart the workers with CLAWFT_TUF_ONLINE_KEY_URI of the "
                "new key"
            )

    def succinct(self) -> SuccinctRoles:
        """The hash-bin delegation of the top-level targets role."""
        delegations = self.targets().delegations
        if delegations is None or delegations.succinct_roles is None:
            raise RepositoryMissing("the targets metadata delegates to no hash bins")
        return delegations.succinct_roles


def succinct_roles(session: Session) -> SuccinctRoles:
    """The hash bins of the repository in ``session``'s database."""
    row = session.scalar(
        sa.select(TufMetadata)
        .where(TufMetadata.role == Targets.type)
        .order_by(TufMetadata.version.desc())
        .limit(1)
    )
    if row is None:
        raise RepositoryMissing("no TUF repository yet: `clawft-registry serve` creates one")
    targets = Metadata[Targets].from_bytes(row.body).signed
    if targets.delegations is None or targets.delegations.succinct_roles is None:
        raise RepositoryMissing("the targets metadata delegates to no hash bins")
    return targets.delegations.succinct_roles


def create_repository(
    session: Session,
    keys: RepositoryKeys,
    settings: TufSettings,
    policies: Iterable[TargetFile] = (),
) -> None:
    """Create the repository: root, targets (bins delegation and ``policies``), every bin
    (empty), snapshot and timestamp. Needs the root and targets keys."""
    if session.scalar(sa.select(sa.func.count()).select_from(TufMetadata)):
        raise RepositoryExists("the database already holds a TUF repository")
    if keys.root is None or keys.targets is None:
        raise SigningKeyError("creating the repository needs the root and targets keys")
    take_publish_lock(session)
    repo = PluginRepository(session, keys, settings)
    online = keys.online.public_key
    with repo.edit_root() as root:
        root.consistent_snapshot = True
        root.add_key(keys.root.public_key, Root.type)
        root.add_key(keys.targets.public_key, Targets.type)
        root.add_key(online, Snapshot.type)
        root.add_key(online, Timestamp.type)
    bins = SuccinctRoles([online.keyid], 1, settings.bit_length, BINS_PREFIX)
    with repo.edit_targets() as targets:
        targets.delegations = Delegations(keys={online.keyid: online}, succinct_roles=bins)
        for policy in policies:
            targets.targets[policy.path] = policy
    for name in bins.get_roles():
        with repo.edit_targets(name):
            pass
    repo.do_snapshot()
    repo.do_timestamp()
    _log.info("TUF repository created: %d hash bins", settings.bins)


@dataclass(frozen=True)
class Published:
    """What one run of the publish task signed."""

    bins: list[str] = field(default_factory=list)
    snapshot: int | None = None
    timestamp: int | None = None
    refreshed: list[str] = field(default_factory=list)
    """Roles re-signed only because they neared their expiry."""


def publish_changes(session: Session, keys: RepositoryKeys, settings: TufSettings) -> Published:
    """Re-sign the bins of every changed target, then snapshot and timestamp; one publisher at
    a time (the lock is held until ``session`` commits)."""
    take_publish_lock(session)
    repo = PluginRepository(session, keys, settings)
    repo.check_online_key()
    bins = _sign_dirty_bins(session, repo)
    if not bins:
        return Published()
    repo.do_snapshot()
    repo.do_timestamp()
    versions = repo.latest_versions()
    return Published(bins, versions[Snapshot.type], versions[Timestamp.type])


def refresh_expiring(
    session: Session,
    keys: RepositoryKeys,
    settings: TufSettings,
    *,
    now: Callable[[], datetime] = utcnow,
) -> Published:
    """Publish what changed, and re-sign every online role with less than its refresh margin
    of lifetime left (Celery beat runs this; the timestamp is the one that always comes due)."""
    take_publish_lock(session)
    repo = PluginRepository(session, keys, settings, now=now)
    repo.check_online_key()
    bins = _sign_dirty_bins(session, repo)
    moment = now()
    expiring = {
        role
        for role, expires in _latest_expiries(session).items()
        if role not in (Root.type, Targets.type)
        and expires - moment < repo.lifetime(role) * settings.refresh_margin
    }
    for role in (Root.type, Targets.type):
        expires = _latest_expiries(session).get(role)
        if expires is not None and expires - moment < repo.lifetime(role) * settings.refresh_margin:
            _log.warning(
                "TUF %s metadata expires at %s: re-sign it with the offline %s key "
                "(clawft-registry admin tuf)",
                role,
                expires.isoformat(),
                role,
            )
    refreshed = sorted(r for r in expiring if r not in (Snapshot.type, Timestamp.type))
    for role in refreshed:
        with repo.edit_targets(role):
            pass
    snapshot_changed, _ = repo.do_snapshot(force=Snapshot.type in expiring)
    timestamp_due = Timestamp.type in expiring
    changed, _ = repo.do_timestamp(force=timestamp_due)
    if not (bins or refreshed or snapshot_changed or changed):
        return Published()
    versions = repo.latest_versions()
    return Published(
        bins,
        versions[Snapshot.type],
        versions[Timestamp.type],
        refreshed + [r for r in (Snapshot.type, Timestamp.type) if r in expiring],
    )


def _sign_dirty_bins(session: Session, repo: PluginRepository) -> list[str]:
    """Re-sign every bin with a changed target (putting new paths in their bin first)."""
    unplaced = session.scalars(sa.select(TufTarget).where(TufTarget.bin.is_(None))).all()
    if unplaced:
        bins = repo.succinct()
        for row in unplaced:
            row.bin = bins.get_role_for_target(row.path)
        session.flush()
    dirty = sorted(
        name
        for name in session.scalars(
            sa.select(TufTarget.bin)
            .where(TufTarget.dirty, TufTarget.bin != Targets.type)
            .distinct()
        )
        if name is not None
    )
    for name in dirty:
        rows = session.scalars(sa.select(TufTarget).where(TufTarget.bin == name)).all()
        with repo.edit_targets(name) as targets:
            targets.targets = {row.path: _target_file(row) for row in rows if not row.removed}
        # Clean at the revision signed (a change made since stays dirty), one statement per
        # kind for the whole bin: a bin of a large repository holds thousands of rows, a
        # change only a few of them.
        signed = [row for row in rows if row.dirty]
        if signed:
            parameters = [{"signed_path": r.path, "signed_revision": r.revision} for r in signed]
            connection = session.connection()
            connection.execute(_DELETE_SIGNED_REMOVAL, parameters)
            connection.execute(_CLEAN_SIGNED, parameters)
            for row in signed:
                if row.removed:
                    session.expunge(row)
                else:
                    set_committed_value(row, "dirty", False)
    return dirty


_AT_SIGNED_REVISION = sa.and_(
    TufTarget.path == sa.bindparam("signed_path"),
    TufTarget.revision == sa.bindparam("signed_revision"),
)
# Run on the connection (Core executemany): the ORM has no bulk DELETE by parameters.
_DELETE_SIGNED_REMOVAL = sa.delete(TufTarget).where(_AT_SIGNED_REVISION, TufTarget.removed)
_CLEAN_SIGNED = sa.update(TufTarget).where(_AT_SIGNED_REVISION).values(dirty=False)


def _target_file(row: TufTarget) -> TargetFile:
    return TargetFile(
        row.length, {"sha256": row.sha256}, row.path, unrecognized_fields={"custom": row.custom}
    )


def _latest_expiries(session: Session) -> dict[str, datetime]:
    newest = (
        sa.select(TufMetadata.role, sa.func.max(TufMetadata.version).label("version"))
        .group_by(TufMetadata.role)
        .subquery()
    )
    rows = session.execute(
        sa.select(TufMetadata.role, TufMetadata.expires_at).join(
            newest,
            sa.and_(TufMetadata.role == newest.c.role, TufMetadata.version == newest.c.version),
        )
    )
    return {role: expires for role, expires in rows}


def take_publish_lock(session: Session) -> None:
    """Take the publish lock for the rest of ``session``'s transaction."""
    session.execute(
        sa.update(TufPublishLock)
        .where(TufPublishLock.id == 1)
        .values(publishes=TufPublishLock.publishes + 1)
    )

"""``clawft-registry mirror --to DIR``: the TUF repository as static files, for any web server,
CDN bucket or USB stick to carry (``sync --from DIR`` reads it).

``DIR/metadata/`` gets every root version, ``timestamp.json``, and the snapshot, targets and
bins the current timestamp names; ``DIR/targets/`` every current target, hash-prefixed. A
mirror needs no trust: devices verify what it holds against their pinned root.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import sqlalchemy as sa
from tuf.api.metadata import Metadata, Root, Snapshot, Timestamp

from registry.db import Database, TufMetadata, TufTarget
from registry.storage import BlobStore
from registry.tuf.repository import RepositoryMissing

__all__ = ["MirrorWritten", "write_mirror"]


@dataclass(frozen=True)
class MirrorWritten:
    metadata_files: int
    target_files: int
    target_bytes: int


def write_mirror(db: Database, blobs: BlobStore, dest: Path) -> MirrorWritten:
    """Write the current repository under ``dest`` (files already there are kept: they are
    immutable, so the same name always has the same bytes)."""
    metadata_dir, targets_dir = dest / "metadata", dest / "targets"
    metadata_dir.mkdir(parents=True, exist_ok=True)
    targets_dir.mkdir(parents=True, exist_ok=True)
    written = 0
    with db.session() as session:
        roots = session.execute(
            sa.select(TufMetadata.version, TufMetadata.body).where(TufMetadata.role == Root.type)
        ).all()
        timestamp = session.scalar(
            sa.select(TufMetadata.body)
            .where(TufMetadata.role == Timestamp.type)
            .order_by(TufMetadata.version.desc())
            .limit(1)
        )
        if timestamp is None or not roots:
            raise RepositoryMissing("no TUF repository to mirror")
        for version, body in roots:
            written += _write(metadata_dir / f"{version}.root.json", body)
        snapshot_version = Metadata[Timestamp].from_bytes(timestamp).signed.snapshot_meta.version
        snapshot = session.get(TufMetadata, (Snapshot.type, snapshot_version))
        if snapshot is None:
            raise RepositoryMissing(f"snapshot version {snapshot_version} is missing")
        written += _write(metadata_dir / f"{snapshot_version}.snapshot.json", snapshot.body)
        for name, meta in Metadata[Snapshot].from_bytes(snapshot.body).signed.meta.items():
            role = name.removesuffix(".json")
            row = session.get(TufMetadata, (role, meta.version))
            if row is None:
                raise RepositoryMissing(f"{role} version {meta.version} is missing")
            written += _write(metadata_dir / f"{meta.version}.{name}", row.body)
        targets = session.execute(
            sa.select(TufTarget.path, TufTarget.sha256, TufTarget.content).where(
                ~TufTarget.removed, ~TufTarget.dirty
            )
        ).all()
    files = size = 0
    for path, sha256, content in targets:
        pure = PurePosixPath(path)
        target = targets_dir.joinpath(*pure.parent.parts, f"{sha256}.{pure.name}")
        if not target.exists():
            data = content if content is not None else blobs.get(sha256, max_bytes=1 << 30)
            _write(target, data)
        files += 1
        size += target.stat().st_size
    # The timestamp last: a reader never sees one whose snapshot is not there yet.
    written += _write(metadata_dir / "timestamp.json", timestamp, replace=True)
    return MirrorWritten(written, files, size)


def _write(path: Path, data: bytes, *, replace: bool = False) -> int:
    if path.exists() and not replace:
        return 0
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_bytes(data)
    temporary.replace(path)
    return 1

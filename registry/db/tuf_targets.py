"""What the TUF repository lists, written in the same transaction as the status change that
causes it: an approved version's files, and its plugin's and namespace's indexes (which also
record yanks). The publish task (:mod:`registry.tuf.repository`) signs them afterwards.

Only approved and yanked versions are ever listed; a yanked version stays listed (an exact pin
still installs it) and its index entry says it is yanked, so ``sync`` passes it by.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import msgspec
from sqlalchemy import select
from sqlalchemy.orm import Session

from client.manifest import BUNDLE_SUFFIX, MANIFEST_FILE_NAME, version_precedence
from client.sync.schemas import (
    CUSTOM_KEY,
    IndexedVersion,
    NamespaceIndex,
    PluginIndex,
    TargetCustom,
    TargetPart,
    namespace_index_path,
    plugin_index_path,
    plugin_target_path,
)
from registry.db.models import DOWNLOADABLE, Namespace, Plugin, PluginVersion, TufTarget

__all__ = ["TargetFileRecord", "is_listed", "list_version", "version_targets"]


@dataclass(frozen=True)
class TargetFileRecord:
    """One file of a version as a target."""

    part: TargetPart
    path: str
    sha256: str
    length: int


def version_targets(version: PluginVersion) -> list[TargetFileRecord]:
    """The target files of ``version``: component, manifest, and bundle when it has one."""
    plugin = version.plugin
    namespace = plugin.namespace.name

    def path(filename: str) -> str:
        return plugin_target_path(namespace, plugin.name, version.version, filename)

    files = [
        TargetFileRecord(
            TargetPart.COMPONENT,
            path(version.component_filename),
            version.component_sha256,
            version.component_size,
        ),
        TargetFileRecord(
            TargetPart.MANIFEST,
            path(MANIFEST_FILE_NAME),
            version.manifest_sha256,
            version.manifest_size,
        ),
    ]
    if version.bundle_sha256 is not None and version.bundle_size is not None:
        files.append(
            TargetFileRecord(
                TargetPart.BUNDLE,
                path(version.component_filename + BUNDLE_SUFFIX),
                version.bundle_sha256,
                version.bundle_size,
            )
        )
    return files


def is_listed(session: Session, version: PluginVersion) -> bool:
    """Whether the signed TUF metadata shows ``version`` as it is now: its plugin's index,
    and (when it is downloadable) its component, signed since they last changed."""
    plugin = version.plugin
    paths = [plugin_index_path(plugin.namespace.name, plugin.name)]
    if version.status in DOWNLOADABLE:
        paths.append(version_targets(version)[0].path)
    rows = session.scalars(select(TufTarget).where(TufTarget.path.in_(paths))).all()
    return len(rows) == len(paths) and not any(row.dirty for row in rows)


def list_version(session: Session, version: PluginVersion) -> None:
    """Bring the targets of ``version``'s plugin up to date after its status changed."""
    plugin = version.plugin
    namespace = plugin.namespace
    if version.status in DOWNLOADABLE:
        report = _report_sha256(version)
        for record in version_targets(version):
            custom = TargetCustom(
                plugin=plugin.full_name,
                version=version.version,
                part=record.part,
                manifest_sha256=version.manifest_sha256,
                report_sha256=report,
            )
            _put(
                session,
                record.path,
                record.sha256,
                record.length,
                {CUSTOM_KEY: msgspec.to_builtins(custom)},
            )
    _put_document(
        session, plugin_index_path(namespace.name, plugin.name), _plugin_index(session, plugin)
    )
    _put_document(
        session, namespace_index_path(namespace.name), _namespace_index(session, namespace)
    )


def _report_sha256(version: PluginVersion) -> str:
    return hashlib.sha256((version.report or "").encode("utf-8")).hexdigest()


def _plugin_index(session: Session, plugin: Plugin) -> bytes:
    rows = session.scalars(
        select(PluginVersion).where(
            PluginVersion.plugin_id == plugin.id, PluginVersion.status.in_(DOWNLOADABLE)
        )
    ).all()
    versions = [
        IndexedVersion(
            version=row.version,
            yanked=row.status == "yanked",
            files={record.part: record.path for record in version_targets(row)},
            report_sha256=_report_sha256(row),
        )
        for row in sorted(rows, key=lambda row: version_precedence(row.version))
    ]
    return msgspec.json.encode(PluginIndex(plugin=plugin.full_name, versions=versions))


def _namespace_index(session: Session, namespace: Namespace) -> bytes:
    listed = session.scalars(
        select(Plugin.name)
        .where(
            Plugin.namespace_id == namespace.id,
            select(PluginVersion.id)
            .where(PluginVersion.plugin_id == Plugin.id, PluginVersion.status.in_(DOWNLOADABLE))
            .exists(),
        )
        .order_by(Plugin.name)
    ).all()
    return msgspec.json.encode(NamespaceIndex(namespace=namespace.name, plugins=list(listed)))


def _put_document(session: Session, path: str, content: bytes) -> None:
    _put(
        session,
        path,
        hashlib.sha256(content).hexdigest(),
        len(content),
        {CUSTOM_KEY: {"document": path.split("/", 1)[0]}},
        content=content,
    )


def _put(
    session: Session,
    path: str,
    sha256: str,
    length: int,
    custom: dict[str, object],
    *,
    content: bytes | None = None,
) -> None:
    row = session.get(TufTarget, path)
    if row is None:
        session.add(
            TufTarget(path=path, sha256=sha256, length=length, custom=custom, content=content)
        )
        return
    if row.sha256 == sha256 and row.custom == custom and not row.removed:
        return
    row.sha256, row.length, row.custom, row.content = sha256, length, custom, content
    row.removed, row.dirty, row.revision = False, True, row.revision + 1

"""What the TUF repository lists, written in the same transaction as the status change that
causes it: an approved version's files, and its plugin's and namespace's indexes (which also
record yanks). The publish task (:mod:`registry.tuf.repository`) signs them afterwards.

Only approved and yanked versions are ever listed; a yanked version stays listed (an exact pin
still installs it) and its index entry says it is yanked, so ``sync`` passes it by.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

import msgspec
from sqlalchemy import select
from sqlalchemy.orm import Session
from tuf.api.metadata import Metadata, SuccinctRoles, Targets

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
)
from registry.db.models import (
    DOWNLOADABLE,
    Namespace,
    Plugin,
    PluginVersion,
    TufMetadata,
    TufTarget,
)
from registry.tuf.placement import plugin_file_path

__all__ = ["TargetFileRecord", "is_listed", "list_version", "version_targets"]


@dataclass(frozen=True)
class TargetFileRecord:
    """One file of a version as a target."""

    part: TargetPart
    path: str
    sha256: str
    length: int


def version_targets(
    version: PluginVersion, bins: SuccinctRoles, listed: Mapping[TargetPart, str] | None = None
) -> list[TargetFileRecord]:
    """The target files of ``version``: component, manifest, and bundle when it has one, at
    the paths its plugin index lists (``listed``), or else in its plugin's bin."""
    plugin = version.plugin
    namespace = plugin.namespace.name
    known = listed or {}

    def path(part: TargetPart, filename: str) -> str:
        return known.get(part) or plugin_file_path(
            bins, namespace, plugin.name, version.version, filename
        )

    files = [
        TargetFileRecord(
            TargetPart.COMPONENT,
            path(TargetPart.COMPONENT, version.component_filename),
            version.component_sha256,
            version.component_size,
        ),
        TargetFileRecord(
            TargetPart.MANIFEST,
            path(TargetPart.MANIFEST, MANIFEST_FILE_NAME),
            version.manifest_sha256,
            version.manifest_size,
        ),
    ]
    if version.bundle_sha256 is not None and version.bundle_size is not None:
        files.append(
            TargetFileRecord(
                TargetPart.BUNDLE,
                path(TargetPart.BUNDLE, version.component_filename + BUNDLE_SUFFIX),
                version.bundle_sha256,
                version.bundle_size,
            )
        )
    return files


def is_listed(session: Session, version: PluginVersion) -> bool:
    """Whether the signed TUF metadata shows ``version`` as it is now: its plugin's index,
    and (when it is downloadable) its component, signed since they last changed."""
    plugin = version.plugin
    index = session.get(TufTarget, plugin_index_path(plugin.namespace.name, plugin.name))
    if index is None or index.dirty or index.removed:
        return False
    if version.status not in DOWNLOADABLE:
        return True
    entry = _listed_versions(index).get(version.version)
    component = None if entry is None else entry.files.get(TargetPart.COMPONENT)
    row = None if component is None else session.get(TufTarget, component)
    return row is not None and not row.dirty and not row.removed


def list_version(session: Session, version: PluginVersion) -> None:
    """Bring the targets of ``version``'s plugin up to date after its status changed.

    Its cost does not grow with the plugin's other versions' reports or manifests: their
    entries in the stored plugin index are kept (a version's files and report never change
    once it is listed), and only their number and status are read again.

    Nothing to do while the database holds no TUF repository: creating one lists every
    approved and yanked version."""
    bins = _bins(session)
    if bins is None:
        return
    plugin = version.plugin
    namespace = plugin.namespace
    index_path = plugin_index_path(namespace.name, plugin.name)
    index_row = session.get(TufTarget, index_path)
    listed = {} if index_row is None else _listed_versions(index_row)
    if version.status in DOWNLOADABLE:
        known = listed.get(version.version)
        report = _report_sha256(version)
        records = version_targets(version, bins, None if known is None else known.files)
        for record in records:
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
        listed[version.version] = _indexed(version, records, report)
    _put_document(session, index_path, _plugin_index(session, plugin, bins, listed))
    _put_document(
        session, namespace_index_path(namespace.name), _namespace_index(session, namespace)
    )


def _bins(session: Session) -> SuccinctRoles | None:
    body = session.scalar(
        select(TufMetadata.body)
        .where(TufMetadata.role == Targets.type)
        .order_by(TufMetadata.version.desc())
        .limit(1)
    )
    if body is None:
        return None
    delegations = Metadata[Targets].from_bytes(body).signed.delegations
    return None if delegations is None else delegations.succinct_roles


def _listed_versions(index_row: TufTarget) -> dict[str, IndexedVersion]:
    """Each version's entry in the plugin index stored in ``index_row`` (the registry wrote
    it: a decoding error is a bug, not hostile input)."""
    if index_row.content is None:
        return {}
    index = msgspec.json.decode(index_row.content, type=PluginIndex)
    return {entry.version: entry for entry in index.versions}


def _indexed(
    version: PluginVersion, records: list[TargetFileRecord], report: str
) -> IndexedVersion:
    return IndexedVersion(
        version=version.version,
        yanked=version.status == "yanked",
        files={record.part: record.path for record in records},
        report_sha256=report,
    )


def _report_sha256(version: PluginVersion) -> str:
    return hashlib.sha256((version.report or "").encode("utf-8")).hexdigest()


def _plugin_index(
    session: Session,
    plugin: Plugin,
    bins: SuccinctRoles,
    listed: Mapping[str, IndexedVersion],
) -> bytes:
    """Every approved and yanked version of ``plugin``: the entries in ``listed`` as they are
    (with each one's yanked flag as its status is now), the others from their rows."""
    downloadable = session.execute(
        select(PluginVersion.version, PluginVersion.status).where(
            PluginVersion.plugin_id == plugin.id, PluginVersion.status.in_(DOWNLOADABLE)
        )
    ).all()
    entries = dict(listed)
    if any(row.version not in listed for row in downloadable):
        # Versions approved before the repository existed: creating it lists them one by one.
        for row in session.scalars(
            select(PluginVersion).where(
                PluginVersion.plugin_id == plugin.id, PluginVersion.status.in_(DOWNLOADABLE)
            )
        ):
            if row.version not in listed:
                entries[row.version] = _indexed(
                    row, version_targets(row, bins), _report_sha256(row)
                )
    versions = [
        msgspec.structs.replace(entries[row.version], yanked=row.status == "yanked")
        for row in sorted(downloadable, key=lambda row: version_precedence(row.version))
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

"""What the pages read from the database, in as few queries as the JSON API for the same data:

* a plugin page: the plugin with its namespace, owner and trusted signers (one query), its
  versions with their download counts (one query), and the manifest and report of the
  versions whose facts are not cached yet (one query, none once they are: a judged version's
  manifest and report never change);
* a search page: the same queries as ``GET /api/v1/plugins`` (plus the namespace filter), or,
  with a permission filter, the matching plugins and their approved manifests (two queries);
* the home page: the recently approved versions (one query);
* a namespace page: the same queries as ``GET /api/v1/namespaces/{namespace}``.

Nothing here writes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, joinedload

from client.manifest import version_precedence
from client.registry.schemas import PluginSummary, SearchPage
from registry.db import Namespace, Plugin, PluginVersion
from registry.db.models import DownloadCount, VersionStatus
from registry.domain.plugins.search import matching_plugins, summaries
from registry.errors import NotFound

__all__ = [
    "PluginRecord",
    "RecentVersion",
    "VersionRecord",
    "judgements",
    "load_plugin",
    "recently_approved",
    "search_plugins",
]


@dataclass(frozen=True, slots=True)
class VersionRecord:
    """A version as the versions table and the page header need it (no manifest, no report)."""

    id: str
    version: str
    status: str
    created_at: datetime
    verdict_at: datetime | None
    component_filename: str
    component_sha256: str
    component_size: int
    manifest_sha256: str
    manifest_size: int
    bundle_sha256: str | None
    bundle_size: int | None
    yanked_reason: str | None
    downloads: int


@dataclass(frozen=True, slots=True)
class PluginRecord:
    namespace: str
    name: str
    description: str
    owner: str
    signers: tuple[tuple[str, str], ...]
    """The namespace's trusted signers: (identity, issuer)."""
    versions: tuple[VersionRecord, ...]
    """Highest version first (Semantic Versioning precedence)."""

    @property
    def full_name(self) -> str:
        return f"{self.namespace}/{self.name}"


def _record(row: Any) -> VersionRecord:
    return VersionRecord(*row)


def load_plugin(session: Session, namespace: str, name: str) -> PluginRecord:
    """A plugin, its namespace's owner and signers, and its versions: two queries."""
    plugin = (
        session.scalars(
            sa.select(Plugin)
            .join(Namespace, Plugin.namespace_id == Namespace.id)
            .where(Namespace.name == namespace, Plugin.name == name)
            .options(
                joinedload(Plugin.namespace).joinedload(Namespace.owner),
                joinedload(Plugin.namespace).joinedload(Namespace.signers),
            )
        )
        .unique()
        .one_or_none()
    )
    if plugin is None:
        raise NotFound(f"no plugin {namespace}/{name}")
    v = PluginVersion
    rows = session.execute(
        sa.select(
            v.id,
            v.version,
            v.status,
            v.created_at,
            v.verdict_at,
            v.component_filename,
            v.component_sha256,
            v.component_size,
            v.manifest_sha256,
            v.manifest_size,
            v.bundle_sha256,
            v.bundle_size,
            v.yanked_reason,
            sa.func.coalesce(DownloadCount.downloads, 0),
        )
        .outerjoin(DownloadCount, DownloadCount.version_id == v.id)
        .where(v.plugin_id == plugin.id)
    ).all()
    versions = sorted(
        (_record(row) for row in rows),
        key=lambda r: version_precedence(r.version),
        reverse=True,
    )
    return PluginRecord(
        namespace=plugin.namespace.name,
        name=plugin.name,
        description=plugin.description,
        owner=plugin.namespace.owner.name,
        signers=tuple((s.identity, s.issuer) for s in plugin.namespace.signers),
        versions=tuple(versions),
    )


def judgements(
    session: Session, version_ids: Iterable[str]
) -> dict[str, tuple[dict[str, Any], str | None]]:
    """Version id → (manifest, report JSON) of these versions: one query."""
    ids = list(version_ids)
    if not ids:
        return {}
    rows = session.execute(
        sa.select(PluginVersion.id, PluginVersion.manifest, PluginVersion.report).where(
            PluginVersion.id.in_(ids)
        )
    )
    return {row[0]: (row[1], row[2]) for row in rows}


@dataclass(frozen=True, slots=True)
class RecentVersion:
    name: str
    version: str
    description: str
    approved_at: datetime


def recently_approved(session: Session, limit: int = 8) -> list[RecentVersion]:
    """The most recently approved versions still approved, newest first: one query."""
    rows = session.execute(
        sa.select(
            Namespace.name,
            Plugin.name,
            PluginVersion.version,
            Plugin.description,
            PluginVersion.verdict_at,
        )
        .join(Plugin, PluginVersion.plugin_id == Plugin.id)
        .join(Namespace, Plugin.namespace_id == Namespace.id)
        .where(PluginVersion.status == VersionStatus.APPROVED)
        .order_by(PluginVersion.verdict_at.desc())
        .limit(limit)
    ).all()
    return [
        RecentVersion(f"{ns}/{name}", version, desc, at)
        for ns, name, version, desc, at in rows
        if at is not None
    ]


PERMISSION_FILTERS = {
    "no-network": "network",
    "no-files": "filesystem",
}
"""``permission=`` values of the search page: the manifest list that must be empty."""


def _matching(query: str, namespace: str) -> sa.Select[Any]:
    matching = matching_plugins(query)
    if namespace:
        matching = matching.where(Namespace.name == namespace)
    return matching


def search_plugins(
    session: Session, query: str, namespace: str, permission: str, page: int, per_page: int
) -> SearchPage:
    """``GET /api/v1/plugins``'s search, narrowed to a namespace and to plugins whose latest
    approved version asks for no network or no file access."""
    matching = _matching(query, namespace)
    ordered = matching.options(joinedload(Plugin.namespace)).order_by(Namespace.name, Plugin.name)
    field = PERMISSION_FILTERS.get(permission)
    if field is None:
        total = session.scalar(sa.select(sa.func.count()).select_from(matching.subquery())) or 0
        rows: Sequence[Plugin] = session.scalars(
            ordered.offset((page - 1) * per_page).limit(per_page)
        ).all()
        return SearchPage(summaries(session, rows), page, per_page, total)
    plugins: Sequence[Plugin] = session.scalars(ordered).all()
    latest: dict[str, tuple[str, dict[str, Any]]] = {}
    if plugins:
        approved = session.execute(
            sa.select(PluginVersion.plugin_id, PluginVersion.version, PluginVersion.manifest).where(
                PluginVersion.plugin_id.in_([p.id for p in plugins]),
                PluginVersion.status == VersionStatus.APPROVED,
            )
        )
        for plugin_id, version, manifest in approved:
            best = latest.get(plugin_id)
            if best is None or version_precedence(version) > version_precedence(best[0]):
                latest[plugin_id] = (version, manifest)
    kept = [
        p
        for p in plugins
        if p.id in latest and not latest[p.id][1].get("permissions", {}).get(field)
    ]
    shown = kept[(page - 1) * per_page : page * per_page]
    items = [
        PluginSummary(
            p.full_name,
            p.description,
            latest[p.id][0],
            namespace=p.namespace.name,
            plugin=p.name,
        )
        for p in shown
    ]
    return SearchPage(items, page, per_page, len(kept))

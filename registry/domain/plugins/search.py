"""Search over approved plugins, and the summaries search and namespace pages list: one query
for the page and one for the latest approved version of every plugin on it."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.orm import Session

from client.manifest import version_precedence
from client.registry.schemas import PluginSummary, SearchPage
from registry.db import Database, Namespace, Plugin, PluginVersion
from registry.db.models import VersionStatus

__all__ = ["matching_plugins", "search", "summaries"]

MAX_QUERY_CHARS = 100


def summaries(session: Session, plugins: Sequence[Plugin]) -> list[PluginSummary]:
    """Each plugin's name, description and latest approved version."""
    approved: dict[str, list[str]] = {plugin.id: [] for plugin in plugins}
    if approved:
        rows = session.execute(
            sa.select(PluginVersion.plugin_id, PluginVersion.version).where(
                PluginVersion.plugin_id.in_(approved),
                PluginVersion.status == VersionStatus.APPROVED,
            )
        )
        for plugin_id, version in rows:
            approved[plugin_id].append(version)
    return [
        PluginSummary(
            plugin.full_name,
            plugin.description,
            max(approved[plugin.id], key=version_precedence) if approved[plugin.id] else None,
            namespace=plugin.namespace.name,
            plugin=plugin.name,
        )
        for plugin in plugins
    ]


def matching_plugins(query: str) -> sa.Select[Plugin]:
    """Plugins with an approved version whose ``namespace/name`` or description contains
    ``query`` (case-insensitive; ``%`` and ``_`` are taken literally by dropping them)."""
    pattern = f"%{query.lower()[:MAX_QUERY_CHARS].replace('%', '').replace('_', '')}%"
    has_approved = (
        sa.select(PluginVersion.id)
        .where(
            PluginVersion.plugin_id == Plugin.id,
            PluginVersion.status == VersionStatus.APPROVED,
        )
        .exists()
    )
    return (
        sa.select(Plugin)
        .join(Namespace)
        .where(
            has_approved,
            sa.or_(
                sa.func.lower(Namespace.name + "/" + Plugin.name).like(pattern),
                sa.func.lower(Plugin.description).like(pattern),
            ),
        )
    )


def search(db: Database, query: str, page: int, per_page: int) -> SearchPage:
    """Approved plugins whose ``namespace/name`` or description contains ``query``."""
    matching = matching_plugins(query)
    with db.session() as session:
        total = session.scalar(sa.select(sa.func.count()).select_from(matching.subquery())) or 0
        rows = session.scalars(
            matching.options(sa.orm.joinedload(Plugin.namespace))
            .order_by(Namespace.name, Plugin.name)
            .offset((page - 1) * per_page)
            .limit(per_page)
        ).all()
        return SearchPage(summaries(session, rows), page, per_page, total)

"""The marketplace's pages as data: :class:`Marketplace` reads what a page needs (through
:mod:`.queries`) and shapes it (through :mod:`.views`); the controllers render it.

A judged version's manifest, report and bundle never change, so their :class:`VersionFacts`
are kept in a small LRU cache by version id: a page then reads only its plugin and version
rows, and nothing from the blob store.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime

from client.registry.schemas import NamespaceDetail, SearchPage
from registry.db.models import VersionStatus
from registry.domain.publishers.services import namespace_detail
from registry.errors import NotFound
from registry.services import RegistryServices
from registry.storage import StorageUnavailable
from registry.web.queries import (
    PluginRecord,
    RecentVersion,
    VersionRecord,
    judgements,
    load_plugin,
    recently_approved,
    search_plugins,
)
from registry.web.views import VersionFacts, human_bytes, version_facts

__all__ = ["Marketplace", "PluginPage", "SearchView", "VersionRow"]

PER_PAGE = 20
MAX_BUNDLE_BYTES = 1024 * 1024


@dataclass(frozen=True, slots=True)
class VersionRow:
    """A line of the versions table."""

    version: str
    status: str
    reason: str | None
    """Rejected: the failing check and its reason; yanked: the yank's reason."""
    date: str
    size: str
    downloads: int
    current: bool


@dataclass(frozen=True, slots=True)
class PluginPage:
    plugin: PluginRecord
    version: VersionRecord
    facts: VersionFacts
    versions: list[VersionRow]
    downloads_total: int
    downloads_version: int
    latest_approved: str | None
    signer_trusted: bool | None
    """Whether the signer is one of the namespace's trusted signers (None: no signer known)."""
    pull_command: str
    sync_command: str

    @property
    def yanked(self) -> bool:
        return self.version.status == VersionStatus.YANKED


@dataclass(frozen=True, slots=True)
class SearchView:
    query: str
    namespace: str
    permission: str
    results: SearchPage

    @property
    def pages(self) -> int:
        return max(1, -(-self.results.total // self.results.per_page))


def _date(at: datetime | None) -> str:
    return at.strftime("%Y-%m-%d") if at else ""


class FactsCache:
    """Version id → :class:`VersionFacts` of judged versions, least recently used out."""

    def __init__(self, max_entries: int = 512) -> None:
        self._max = max_entries
        self._facts: OrderedDict[str, VersionFacts] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, version_id: str) -> VersionFacts | None:
        with self._lock:
            facts = self._facts.get(version_id)
            if facts is not None:
                self._facts.move_to_end(version_id)
            return facts

    def put(self, version_id: str, facts: VersionFacts) -> None:
        with self._lock:
            self._facts[version_id] = facts
            while len(self._facts) > self._max:
                self._facts.popitem(last=False)


class Marketplace:
    """Reads and shapes the pages' data; built once per app from the registry's services."""

    def __init__(self, services: RegistryServices, *, facts_cache: FactsCache | None = None):
        self.services = services
        self.facts = facts_cache or FactsCache()

    def _bundle(self, version: VersionRecord) -> bytes | None:
        if version.bundle_sha256 is None or (version.bundle_size or 0) > MAX_BUNDLE_BYTES:
            return None
        try:
            return self.services.blobs.get(version.bundle_sha256, max_bytes=MAX_BUNDLE_BYTES)
        except (StorageUnavailable, FileNotFoundError, OSError):
            return None

    def plugin_page(self, namespace: str, name: str, version: str | None) -> PluginPage:
        """A version of a plugin (``None``: the latest approved one, else the newest)."""
        with self.services.db.session() as session:
            plugin = load_plugin(session, namespace, name)
            approved = [v for v in plugin.versions if v.status == VersionStatus.APPROVED]
            if version is None:
                if not plugin.versions:
                    raise NotFound(f"{namespace}/{name} has no versions")
                shown = approved[0] if approved else plugin.versions[0]
            else:
                found = next((v for v in plugin.versions if v.version == version), None)
                if found is None:
                    raise NotFound(f"no version {version} of {namespace}/{name}")
                shown = found
            needed = [shown] + [
                v for v in plugin.versions if v.status == VersionStatus.REJECTED and v is not shown
            ]
            facts: dict[str, VersionFacts] = {}
            missing = []
            for record in needed:
                cached = self.facts.get(record.id)
                if cached is None:
                    missing.append(record)
                else:
                    facts[record.id] = cached
            loaded = judgements(session, [r.id for r in missing]) if missing else {}
        for record in missing:
            manifest, report = loaded.get(record.id, ({}, None))
            bundle = self._bundle(record) if record is shown else None
            made = version_facts(manifest, report, bundle, record.component_size)
            facts[record.id] = made
            bundle_read = record.bundle_sha256 is None or bundle is not None
            if record.verdict_at is not None and (record is not shown or bundle_read):
                self.facts.put(record.id, made)
        return self._page(plugin, shown, facts, approved[0].version if approved else None)

    def _page(
        self,
        plugin: PluginRecord,
        shown: VersionRecord,
        facts: dict[str, VersionFacts],
        latest_approved: str | None,
    ) -> PluginPage:
        pending = self.services.download_counts.pending(plugin.namespace, plugin.name)
        rows = []
        total = 0
        for record in plugin.versions:
            downloads = record.downloads + pending.get(record.version, 0)
            total += downloads
            reason = None
            if record.status == VersionStatus.REJECTED:
                failing = facts[record.id].failing if record.id in facts else None
                reason = f"{failing.name}: {failing.reason}" if failing else "rejected"
            elif record.status == VersionStatus.YANKED:
                reason = record.yanked_reason or "yanked"
            rows.append(
                VersionRow(
                    record.version,
                    record.status,
                    reason,
                    _date(record.created_at),
                    human_bytes(record.component_size),
                    downloads,
                    record is shown,
                )
            )
        own = facts[shown.id]
        signer = own.signer
        trusted = (
            (signer.identity, signer.issuer) in plugin.signers
            if signer.identity and signer.issuer
            else None
        )
        reference = f"{plugin.full_name}@{shown.version}"
        return PluginPage(
            plugin=plugin,
            version=shown,
            facts=own,
            versions=rows,
            downloads_total=total,
            downloads_version=next(r.downloads for r in rows if r.current),
            latest_approved=latest_approved,
            signer_trusted=trusted,
            pull_command=f"clawft-registry pull {reference}",
            sync_command=f"clawft-registry sync --dest plugins --select {reference}",
        )

    def search(self, query: str, namespace: str, permission: str, page: int) -> SearchView:
        with self.services.db.session() as session:
            results = search_plugins(session, query, namespace, permission, page, PER_PAGE)
        return SearchView(query, namespace, permission, results)

    def recent(self) -> list[RecentVersion]:
        with self.services.db.session() as session:
            return recently_approved(session)

    def namespace(self, name: str) -> NamespaceDetail:
        with self.services.db.session() as session:
            return namespace_detail(session, name)

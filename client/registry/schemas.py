"""Wire types of the registry API (registry/API.md), as the client decodes them."""

from __future__ import annotations

import msgspec


class PublishAccepted(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    """``namespace/plugin``."""
    version: str
    status: str
    status_url: str
    namespace: str = ""
    """The two halves of ``name`` (the path of the version's URL)."""
    plugin: str = ""


class FileRecord(msgspec.Struct, frozen=True):
    sha256: str
    size: int
    filename: str | None = None


class CheckSummary(msgspec.Struct, frozen=True):
    name: str
    passed: bool
    skipped: bool
    reason: str


class AuditSummary(msgspec.Struct, frozen=True):
    calls: int
    denied: int


class ReportSummary(msgspec.Struct, frozen=True):
    verdict: str
    checks: list[CheckSummary]
    audit: AuditSummary


class Downloads(msgspec.Struct, frozen=True):
    component: str
    manifest: str
    bundle: str | None = None


class VersionDetail(msgspec.Struct, frozen=True):
    name: str
    version: str
    status: str
    yanked: bool
    created_at: str
    component: FileRecord
    manifest: FileRecord
    download: Downloads
    yanked_reason: str | None = None
    verdict_at: str | None = None
    bundle: FileRecord | None = None
    report_summary: ReportSummary | None = None
    listed: bool = False
    """The registry's signed TUF metadata shows this version as it is now: devices can
    ``sync`` and ``pull`` it (an approval is signed moments after the verdict)."""


class VersionSummary(msgspec.Struct, frozen=True):
    version: str
    status: str
    created_at: str
    yanked: bool


class PluginDetail(msgspec.Struct, frozen=True):
    name: str
    description: str
    versions: list[VersionSummary]


class PluginSummary(msgspec.Struct, frozen=True):
    name: str
    """``namespace/plugin``."""
    description: str
    latest_version: str | None
    namespace: str = ""
    """The two halves of ``name`` (the path of the plugin's URL)."""
    plugin: str = ""


class SearchPage(msgspec.Struct, frozen=True):
    items: list[PluginSummary]
    page: int
    per_page: int
    total: int


class Signer(msgspec.Struct, frozen=True):
    identity: str
    issuer: str


class NamespaceDetail(msgspec.Struct, frozen=True):
    name: str
    owner: str
    trusted_signers: list[Signer]
    plugins: list[PluginSummary]

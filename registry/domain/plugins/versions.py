"""Reading plugins and their versions: one version, the latest approved, every version, the
report. Each read is one or two queries; nothing here writes."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session, object_session

from client.manifest import version_precedence
from client.registry.schemas import (
    AuditSummary,
    CheckSummary,
    Downloads,
    FileRecord,
    PluginDetail,
    ReportSummary,
    VersionDetail,
    VersionSummary,
)
from registry.db import Database, Namespace, Plugin, PluginVersion
from registry.db.models import VersionStatus
from registry.db.tuf_targets import is_listed
from registry.errors import NotApproved, NotFound
from verifier.report import VerificationReport

__all__ = [
    "api_path",
    "find_version",
    "latest",
    "plugin_detail",
    "report",
    "require_version",
    "to_detail",
    "version_detail",
]


def api_path(name: str, version: str) -> str:
    """``/api/v1/plugins/<namespace>/<name>/versions/<version>``."""
    return f"/api/v1/plugins/{name}/versions/{version}"


def find_version(session: Session, namespace: str, name: str, version: str) -> PluginVersion | None:
    return session.scalar(
        sa.select(PluginVersion)
        .join(Plugin)
        .join(Namespace)
        .where(Namespace.name == namespace, Plugin.name == name, PluginVersion.version == version)
    )


def require_version(session: Session, namespace: str, name: str, version: str) -> PluginVersion:
    row = find_version(session, namespace, name, version)
    if row is None:
        raise NotFound(f"no version {version} of {namespace}/{name}")
    return row


def _plugin_row(session: Session, namespace: str, name: str) -> Plugin:
    plugin = session.scalar(
        sa.select(Plugin).join(Namespace).where(Namespace.name == namespace, Plugin.name == name)
    )
    if plugin is None:
        raise NotFound(f"no plugin {namespace}/{name}")
    return plugin


def to_detail(row: PluginVersion) -> VersionDetail:
    name = row.plugin.full_name
    base = api_path(name, row.version)
    return VersionDetail(
        name=name,
        version=row.version,
        status=row.status,
        yanked=row.status == VersionStatus.YANKED,
        yanked_reason=row.yanked_reason,
        created_at=row.created_at.isoformat(),
        verdict_at=row.verdict_at.isoformat() if row.verdict_at else None,
        component=FileRecord(row.component_sha256, row.component_size, row.component_filename),
        manifest=FileRecord(row.manifest_sha256, row.manifest_size),
        bundle=FileRecord(row.bundle_sha256, row.bundle_size or 0) if row.bundle_sha256 else None,
        report_summary=report_summary(row.report),
        download=Downloads(
            component=f"{base}/component",
            manifest=f"{base}/manifest",
            bundle=f"{base}/bundle" if row.bundle_sha256 else None,
        ),
        listed=_listed(row),
    )


def _listed(row: PluginVersion) -> bool:
    session = object_session(row)
    return session is not None and is_listed(session, row)


def report_summary(report_json: str | None) -> ReportSummary | None:
    """The checks and audit counts of a stored report, read through its own type."""
    if report_json is None:
        return None
    report = VerificationReport.from_json(report_json.encode())
    counts = report.audit_counts
    calls = counts.calls if counts else len(report.audit)
    denied = counts.denied if counts else sum(1 for a in report.audit if not a.permitted)
    return ReportSummary(
        verdict=report.verdict,
        checks=[CheckSummary(c.name, c.passed, c.skipped, c.reason) for c in report.checks],
        audit=AuditSummary(calls=calls, denied=denied),
    )


def version_detail(db: Database, namespace: str, name: str, version: str) -> VersionDetail:
    with db.session() as session:
        return to_detail(require_version(session, namespace, name, version))


def report(db: Database, namespace: str, name: str, version: str) -> bytes:
    """The verification report, byte for byte as the verifier wrote it."""
    with db.session() as session:
        row = require_version(session, namespace, name, version)
        if row.report is None:
            raise NotApproved(f"{namespace}/{name} {version} is {row.status}: no report yet")
        return row.report.encode()


def latest(db: Database, namespace: str, name: str) -> VersionDetail:
    """The highest approved, non-yanked version, in Semantic Versioning precedence (only its
    row is loaded: the others' numbers decide)."""
    with db.session() as session:
        plugin = _plugin_row(session, namespace, name)
        approved = session.execute(
            sa.select(PluginVersion.id, PluginVersion.version).where(
                PluginVersion.plugin_id == plugin.id,
                PluginVersion.status == VersionStatus.APPROVED,
            )
        ).all()
        if not approved:
            raise NotFound(f"{namespace}/{name} has no approved version")
        best = max(approved, key=lambda row: version_precedence(row.version))
        row = session.get(PluginVersion, best.id)
        if row is None:  # pragma: no cover - read in this transaction
            raise NotFound(f"{namespace}/{name} has no approved version")
        return to_detail(row)


def plugin_detail(db: Database, namespace: str, name: str) -> PluginDetail:
    """The plugin and every version's summary, newest first: the columns a summary shows,
    not each version's report and manifest."""
    with db.session() as session:
        plugin = _plugin_row(session, namespace, name)
        rows = session.execute(
            sa.select(PluginVersion.version, PluginVersion.status, PluginVersion.created_at).where(
                PluginVersion.plugin_id == plugin.id
            )
        ).all()
        return PluginDetail(
            name=plugin.full_name,
            description=plugin.description,
            versions=[
                VersionSummary(
                    row.version,
                    row.status,
                    row.created_at.isoformat(),
                    row.status == VersionStatus.YANKED,
                )
                for row in sorted(
                    rows, key=lambda row: version_precedence(row.version), reverse=True
                )
            ],
        )

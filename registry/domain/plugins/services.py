"""Publishing, reading, downloading and yanking plugin versions.

Publishing is all-or-nothing: blobs are content-addressed (an unreferenced blob is harmless and
garbage-collectable), and the version row, its first status event and its verification job
commit in one transaction; the job goes to the broker only after that commit.
"""

from __future__ import annotations

import hashlib
import logging

import msgspec
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from client.manifest import (
    BUNDLE_SUFFIX,
    MANIFEST_FILE_NAME,
    version_precedence,
    without_build_metadata,
)
from client.registry.schemas import (
    AuditSummary,
    CheckSummary,
    Downloads,
    FileRecord,
    PluginDetail,
    PluginSummary,
    PublishAccepted,
    ReportSummary,
    SearchPage,
    VersionDetail,
    VersionSummary,
)
from registry.db import (
    Namespace,
    Plugin,
    PluginVersion,
    StatusEvent,
    VerificationJob,
    VersionTombstone,
    transition,
)
from registry.db.lifecycle import IllegalTransition
from registry.db.models import new_id, utcnow
from registry.domain.plugins.downloads import Servable
from registry.domain.plugins.upload import UploadParts
from registry.domain.publishers.services import Principal
from registry.errors import (
    Conflict,
    InvalidUpload,
    NotApproved,
    NotFound,
    VersionExists,
)
from registry.queue import QueueUnavailable
from registry.ratelimit import rate_limit
from registry.services import RegistryServices
from registry.storage import BlobStore

_log = logging.getLogger("clawft.registry.plugins")
PARTS = ("component", "manifest", "bundle")


def _base(name: str, version: str) -> str:
    return f"/api/v1/plugins/{name}/versions/{version}"


# -- publishing --------------------------------------------------------------------------
def publish(
    services: RegistryServices, parts: UploadParts, principal: Principal
) -> PublishAccepted:
    """Judge the request, claim the version number, store the files, then record the version.

    The number is claimed (its tombstone written) before any file is stored, so of racing
    publishes of one version only the winner writes blobs; if its files cannot be stored the
    claim is released and nothing is left behind.
    """
    manifest = parts.manifest
    namespace_name, plugin_name = manifest.name.split("/", 1)
    number = without_build_metadata(manifest.version)
    principal.require_namespace(namespace_name)
    with services.db.session() as session:
        namespace = session.scalar(sa.select(Namespace).where(Namespace.name == namespace_name))
        if namespace is None:
            raise NotFound(f"no namespace {namespace_name!r}; an admin creates namespaces")
        if namespace.owner_id != principal.publisher_id:
            raise Conflict(f"namespace {namespace_name!r} belongs to another publisher")
        if namespace.signers and parts.bundle is None:
            raise InvalidUpload(
                f"namespace {namespace_name} requires a Sigstore bundle: sign the plugin "
                "(`clawft-registry sign`) and send the bundle part"
            )
        if session.get(VersionTombstone, (namespace_name, plugin_name, number)) is not None:
            raise _spent(manifest.name, manifest.version)
    # Counted per publisher, and only once the request may act: a refused request (a token
    # for another namespace, a spent number) does not use up the publisher's allowance.
    rate_limit(services.publish_limiter, principal.publisher_id, "publishes")
    version_id = new_id()
    try:
        with services.db.session() as session:
            session.add(
                VersionTombstone(
                    namespace=namespace_name,
                    plugin=plugin_name,
                    version=number,
                    claimed_by=version_id,
                )
            )
    except IntegrityError:
        raise _spent(manifest.name, manifest.version) from None
    try:
        stored = _store_blobs(services.blobs, parts)
        with services.db.session() as session:
            _insert_version(session, version_id, parts, stored, principal)
    except BaseException:
        _release_claim(services, namespace_name, plugin_name, number, version_id)
        raise
    dispatch(services, version_id)
    return PublishAccepted(
        name=manifest.name,
        version=manifest.version,
        status="pending",
        status_url=_base(manifest.name, manifest.version),
    )


def _spent(name: str, version: str) -> VersionExists:
    return VersionExists(
        f"{name} {version} (or a version that differs from it only in build metadata) was "
        "published before; versions are immutable: publish a new version number"
    )


def _release_claim(
    services: RegistryServices, namespace: str, plugin: str, number: str, version_id: str
) -> None:
    """Give back a number whose files could not be stored (nothing was published)."""
    try:
        with services.db.session() as session:
            session.execute(
                sa.delete(VersionTombstone).where(
                    VersionTombstone.namespace == namespace,
                    VersionTombstone.plugin == plugin,
                    VersionTombstone.version == number,
                    VersionTombstone.claimed_by == version_id,
                )
            )
    except Exception:  # the publish already failed; this failing too leaves the number spent
        _log.exception("could not release the claim on %s/%s %s", namespace, plugin, number)


def _store_blobs(blobs: BlobStore, parts: UploadParts) -> dict[str, tuple[str, int]]:
    stored: dict[str, tuple[str, int]] = {}
    for part, data in (
        ("component", parts.component),
        ("manifest", parts.manifest_bytes),
        ("bundle", parts.bundle),
    ):
        if data is None:
            continue
        info = blobs.put_bytes(
            data, max_bytes=len(data), expected_sha256=hashlib.sha256(data).hexdigest()
        )
        stored[part] = (info.sha256, info.size)
    return stored


def _insert_version(
    session: Session,
    version_id: str,
    parts: UploadParts,
    stored: dict[str, tuple[str, int]],
    principal: Principal,
) -> None:
    manifest = parts.manifest
    namespace_name, plugin_name = manifest.name.split("/", 1)
    namespace = session.scalar(sa.select(Namespace).where(Namespace.name == namespace_name))
    if namespace is None:
        raise NotFound(f"no namespace {namespace_name!r}; an admin creates namespaces")
    plugin = session.scalar(
        sa.select(Plugin).where(Plugin.namespace_id == namespace.id, Plugin.name == plugin_name)
    )
    if plugin is None:
        # What the public sees of a plugin comes from its latest approved version only (set by
        # the lifecycle): a new plugin has no description until a version is approved.
        plugin = Plugin(namespace=namespace, name=plugin_name, description="")
        session.add(plugin)
    bundle = stored.get("bundle")
    row = PluginVersion(
        id=version_id,
        plugin=plugin,
        version=manifest.version,
        component_filename=parts.component_filename,
        component_sha256=stored["component"][0],
        component_size=stored["component"][1],
        manifest_sha256=stored["manifest"][0],
        manifest_size=stored["manifest"][1],
        bundle_sha256=bundle[0] if bundle else None,
        bundle_size=bundle[1] if bundle else None,
        manifest=msgspec.to_builtins(manifest),
        published_by_id=principal.publisher_id,
    )
    session.add(row)
    session.flush()
    session.add(
        StatusEvent(
            version_id=row.id,
            from_status=None,
            to_status="pending",
            actor=principal.actor,
            reason="published",
        )
    )
    session.add(VerificationJob(version_id=row.id))


def dispatch(services: RegistryServices, version_id: str) -> bool:
    """Send one queued job to the broker; on failure it stays queued for the sweeper."""
    try:
        services.queue.send(version_id)
    except QueueUnavailable as exc:
        _log.warning("verification of %s stays queued: %s", version_id, exc)
        with services.db.session() as session:
            job = session.get(VerificationJob, version_id)
            if job is not None:
                job.attempts += 1
                job.last_error = str(exc)[:500]
        return False
    with services.db.session() as session:
        job = session.get(VerificationJob, version_id)
        if job is not None and job.state == "queued":
            job.state = "sent"
            job.sent_at = utcnow()
            job.attempts += 1
    return True


def sweep_outbox(services: RegistryServices, *, limit: int = 100) -> int:
    """Send jobs whose message never reached the broker; returns how many went out."""
    with services.db.session() as session:
        pending = list(
            session.scalars(
                sa.select(VerificationJob.version_id)
                .where(VerificationJob.state == "queued")
                .order_by(VerificationJob.enqueued_at)
                .limit(limit)
            )
        )
    return sum(1 for version_id in pending if dispatch(services, version_id))


# -- reading -----------------------------------------------------------------------------
def _version_row(session: Session, namespace: str, name: str, version: str) -> PluginVersion | None:
    return session.scalar(
        sa.select(PluginVersion)
        .join(Plugin)
        .join(Namespace)
        .where(Namespace.name == namespace, Plugin.name == name, PluginVersion.version == version)
    )


def _plugin_row(session: Session, namespace: str, name: str) -> Plugin:
    plugin = session.scalar(
        sa.select(Plugin).join(Namespace).where(Namespace.name == namespace, Plugin.name == name)
    )
    if plugin is None:
        raise NotFound(f"no plugin {namespace}/{name}")
    return plugin


def _require_version(session: Session, namespace: str, name: str, version: str) -> PluginVersion:
    row = _version_row(session, namespace, name, version)
    if row is None:
        raise NotFound(f"no version {version} of {namespace}/{name}")
    return row


def to_detail(row: PluginVersion) -> VersionDetail:
    name = row.plugin.full_name
    base = _base(name, row.version)
    return VersionDetail(
        name=name,
        version=row.version,
        status=row.status,
        yanked=row.status == "yanked",
        yanked_reason=row.yanked_reason,
        created_at=row.created_at.isoformat(),
        verdict_at=row.verdict_at.isoformat() if row.verdict_at else None,
        component=FileRecord(row.component_sha256, row.component_size, row.component_filename),
        manifest=FileRecord(row.manifest_sha256, row.manifest_size),
        bundle=FileRecord(row.bundle_sha256, row.bundle_size or 0) if row.bundle_sha256 else None,
        report_summary=_summary(row.report),
        download=Downloads(
            component=f"{base}/component",
            manifest=f"{base}/manifest",
            bundle=f"{base}/bundle" if row.bundle_sha256 else None,
        ),
    )


def _summary(report_json: str | None) -> ReportSummary | None:
    if report_json is None:
        return None
    report = msgspec.json.decode(report_json)
    checks = [
        CheckSummary(c["name"], c["passed"], c.get("skipped", False), c["reason"])
        for c in report.get("checks", [])
    ]
    audit = report.get("audit", [])
    counts = report.get("audit_counts") or {
        "calls": len(audit),
        "denied": sum(1 for a in audit if not a["permitted"]),
    }
    return ReportSummary(
        verdict=report.get("verdict", "rejected"),
        checks=checks,
        audit=AuditSummary(calls=counts["calls"], denied=counts["denied"]),
    )


def version_detail(
    services: RegistryServices, namespace: str, name: str, version: str
) -> VersionDetail:
    with services.db.session() as session:
        return to_detail(_require_version(session, namespace, name, version))


def report(services: RegistryServices, namespace: str, name: str, version: str) -> bytes:
    with services.db.session() as session:
        row = _require_version(session, namespace, name, version)
        if row.report is None:
            raise NotApproved(f"{namespace}/{name} {version} is {row.status}: no report yet")
        return row.report.encode()


def latest(services: RegistryServices, namespace: str, name: str) -> VersionDetail:
    with services.db.session() as session:
        plugin = _plugin_row(session, namespace, name)
        approved = [v for v in plugin.versions if v.status == "approved"]
        if not approved:
            raise NotFound(f"{namespace}/{name} has no approved version")
        return to_detail(max(approved, key=lambda v: version_precedence(v.version)))


def plugin_detail(services: RegistryServices, namespace: str, name: str) -> PluginDetail:
    with services.db.session() as session:
        plugin = _plugin_row(session, namespace, name)
        versions = sorted(
            plugin.versions, key=lambda v: version_precedence(v.version), reverse=True
        )
        return PluginDetail(
            name=plugin.full_name,
            description=plugin.description,
            versions=[
                VersionSummary(v.version, v.status, v.created_at.isoformat(), v.status == "yanked")
                for v in versions
            ],
        )


def summaries(session: Session, plugins: list[Plugin]) -> list[PluginSummary]:
    out = []
    for plugin in plugins:
        approved = [v.version for v in plugin.versions if v.status == "approved"]
        latest_version = max(approved, key=version_precedence) if approved else None
        out.append(PluginSummary(plugin.full_name, plugin.description, latest_version))
    return out


def search(services: RegistryServices, query: str, page: int, per_page: int) -> SearchPage:
    pattern = f"%{query.lower()[:100].replace('%', '').replace('_', '')}%"
    with services.db.session() as session:
        has_approved = (
            sa.select(PluginVersion.id)
            .where(PluginVersion.plugin_id == Plugin.id, PluginVersion.status == "approved")
            .exists()
        )
        matching = (
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
        total = session.scalar(sa.select(sa.func.count()).select_from(matching.subquery())) or 0
        rows = session.scalars(
            matching.order_by(Namespace.name, Plugin.name)
            .offset((page - 1) * per_page)
            .limit(per_page)
        ).all()
        return SearchPage(summaries(session, list(rows)), page, per_page, total)


def servable(
    services: RegistryServices, namespace: str, name: str, version: str, part: str
) -> Servable:
    """What may be downloaded of ``part``; NotApproved/NotFound with the reason otherwise."""
    with services.db.session() as session:
        row = _require_version(session, namespace, name, version)
        if row.status not in ("approved", "yanked"):
            why = (
                "was rejected by the verifier; see its report"
                if row.status == "rejected"
                else "is not verified yet"
            )
            raise NotApproved(f"{namespace}/{name} {version} {why} (status: {row.status})")
        files = {
            "component": (row.component_sha256, row.component_size, row.component_filename),
            "manifest": (row.manifest_sha256, row.manifest_size, MANIFEST_FILE_NAME),
            "bundle": (
                row.bundle_sha256,
                row.bundle_size or 0,
                f"{row.component_filename}{BUNDLE_SUFFIX}",
            ),
        }
        sha256, size, filename = files[part]
        yanked = row.status == "yanked"
    if sha256 is None:
        raise NotFound(f"{namespace}/{name} {version} has no {part}")
    return Servable(sha256, size, filename, yanked)


def set_yanked(
    services: RegistryServices,
    principal: Principal,
    namespace: str,
    name: str,
    version: str,
    *,
    yanked: bool,
    reason: str,
) -> VersionDetail:
    principal.require_namespace(namespace)
    with services.db.session() as session:
        row = _require_version(session, namespace, name, version)
        try:
            transition(
                session,
                row,
                "yanked" if yanked else "approved",
                actor=principal.actor,
                reason=reason[:500],
            )
        except IllegalTransition as exc:
            raise Conflict(f"{namespace}/{name} {version}: {exc}") from None
        session.flush()
        detail = to_detail(row)
    services.downloads.forget(namespace, name, version)
    return detail

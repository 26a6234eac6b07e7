"""Publishing a plugin version: judge the request, claim the number, store the files, record
the version and its verification job, and only then hand the job to the broker.

All-or-nothing: the number is claimed before any file is stored (so of racing publishes only
the winner writes blobs), a failure releases the claim, and the version row, its first status
event and its job commit in one transaction.
"""

from __future__ import annotations

import hashlib
import logging

import msgspec
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from client.manifest import without_build_metadata
from client.registry.schemas import PublishAccepted
from registry.db import (
    Namespace,
    Plugin,
    PluginVersion,
    StatusEvent,
    VerificationJob,
    VersionTombstone,
)
from registry.db.models import new_id
from registry.domain.plugins.upload import UploadParts
from registry.domain.plugins.versions import api_path
from registry.domain.publishers.services import Principal
from registry.errors import Conflict, InvalidUpload, NotFound, VersionExists
from registry.queue import dispatch
from registry.ratelimit import rate_limit
from registry.services import RegistryServices
from registry.storage import BlobStore

__all__ = ["publish"]

_log = logging.getLogger("clawft.registry.publishing")


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
    dispatch(services.db, services.queue, version_id)
    return PublishAccepted(
        name=manifest.name,
        namespace=namespace_name,
        plugin=plugin_name,
        version=manifest.version,
        status="pending",
        status_url=api_path(manifest.name, manifest.version),
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

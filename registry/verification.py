"""The verifier's seams (``verifier.storage``) implemented over the registry's database and
blob store: what the Celery task reads and where it writes its verdict, and the one wiring of
them that ``serve`` and ``worker`` both run.

The stores raise the verifier's own :class:`~verifier.storage.StorageUnavailable` when they are
down (``DatabaseUnavailable`` is one), so nothing is translated here but other database errors.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from client.signing import TrustedPublisher
from registry.db import Database, PluginVersion, record_verdict, transition
from registry.domain.publishers.services import trusted_signers
from registry.metrics import verdict_recorded
from registry.settings import RegistrySettings
from registry.storage import BlobNotFound, BlobStore, create_blob_store
from verifier.pipeline import PluginUpload
from verifier.report import Verdict, VerificationReport
from verifier.storage import (
    StorageUnavailable,
    UploadNotFound,
    UploadToVerify,
    UploadUnreadable,
    validate_upload_id,
)
from verifier.tasks import VerificationServices

MAX_BLOB_BYTES = 64 * 1024 * 1024


def verification_services(
    settings: RegistrySettings,
    *,
    db: Database | None = None,
    blobs: BlobStore | None = None,
    on_approved: Callable[[], None] | None = None,
) -> VerificationServices:
    """What a verifier worker of this registry verifies through: its database and blob store
    (new ones unless given: a worker process builds its own after the fork). ``on_approved``
    runs after an approval is committed (the worker queues the TUF publish task there)."""
    database = db if db is not None else Database(settings.database)
    return VerificationServices(
        source=RegistryUploadSource(
            database, blobs if blobs is not None else create_blob_store(settings.storage)
        ),
        sink=RegistryVerdictSink(database, on_approved=on_approved),
        settings=settings.worker.verifier,
    )


@contextmanager
def _database(db: Database) -> Iterator[Session]:
    """A session whose other database errors read as the verifier's StorageUnavailable."""
    try:
        with db.session() as session:
            yield session
    except StorageUnavailable:
        raise
    except SQLAlchemyError as exc:
        raise StorageUnavailable(f"the registry database failed: {exc}") from exc


class RegistryUploadSource:
    """An upload is a plugin version row; its bytes are blobs; its publishers the namespace's."""

    def __init__(self, db: Database, blobs: BlobStore) -> None:
        self.db = db
        self.blobs = blobs

    def fetch(self, upload_id: str) -> UploadToVerify:
        validate_upload_id(upload_id)
        with _database(self.db) as session:
            row = session.get(PluginVersion, upload_id)
            if row is None:
                raise UploadNotFound(f"no plugin version has upload id {upload_id}")
            digests = (row.manifest_sha256, row.component_sha256, row.bundle_sha256)
            filename = row.component_filename
            signers = trusted_signers(session, row.plugin.namespace.name)
        manifest, component = (self._blob(d, upload_id) for d in digests[:2])
        bundle = self._blob(digests[2], upload_id) if digests[2] else None
        return UploadToVerify(
            upload=PluginUpload(
                manifest=manifest, component=component, component_name=filename, bundle=bundle
            ),
            publishers=tuple(
                TrustedPublisher(identity=s.identity, issuer=s.issuer) for s in signers
            ),
        )

    def _blob(self, digest: str, upload_id: str) -> bytes:
        try:
            return self.blobs.get(digest, max_bytes=MAX_BLOB_BYTES)
        except BlobNotFound:
            raise UploadUnreadable(
                f"upload {upload_id} refers to blob {digest}, which the store does not have"
            ) from None


class RegistryVerdictSink:
    """Verdicts land on the version row, once, with the lifecycle's events."""

    def __init__(self, db: Database, *, on_approved: Callable[[], None] | None = None) -> None:
        self.db = db
        self.on_approved = on_approved

    def recorded_verdict(self, upload_id: str) -> Verdict | None:
        with _database(self.db) as session:
            row = session.get(PluginVersion, validate_upload_id(upload_id))
            if row is None or row.report is None:
                return None
            return "approved" if row.status in ("approved", "yanked") else "rejected"

    def mark_verifying(self, upload_id: str) -> None:
        with _database(self.db) as session:
            row = session.execute(
                sa.select(PluginVersion)
                .where(PluginVersion.id == validate_upload_id(upload_id))
                .with_for_update()
            ).scalar_one_or_none()
            if row is not None and row.status == "pending":
                transition(
                    session, row, "verifying", actor="verifier", reason="verification started"
                )

    def record(self, upload_id: str, report: VerificationReport) -> bool:
        with _database(self.db) as session:
            recorded = record_verdict(
                session, validate_upload_id(upload_id), report.to_json().decode(), report.verdict
            )
            row = session.get(PluginVersion, upload_id) if recorded else None
        if row is not None:
            verdict_recorded(report, published_at=row.created_at)
        if recorded and report.verdict == "approved" and self.on_approved is not None:
            self.on_approved()
        return recorded

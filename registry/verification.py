"""The verifier's seams (``verifier.storage``) implemented over the registry's database and
blob store: what the Celery task reads and where it writes its verdict."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from client.signing import TrustedPublisher
from registry.db import Database, DatabaseUnavailable, PluginVersion, record_verdict, transition
from registry.domain.publishers.services import trusted_signers
from registry.storage import BlobNotFound, BlobStore, StorageUnavailable
from verifier.pipeline import PluginUpload
from verifier.report import Verdict, VerificationReport
from verifier.storage import (
    StoreUnavailable,
    UploadNotFound,
    UploadUnreadable,
    VerificationJob,
    validate_upload_id,
)

MAX_BLOB_BYTES = 64 * 1024 * 1024


class RegistryUploadSource:
    """An upload is a plugin version row; its bytes are blobs; its publishers the namespace's."""

    def __init__(self, db: Database, blobs: BlobStore) -> None:
        self.db = db
        self.blobs = blobs

    def fetch(self, upload_id: str) -> VerificationJob:
        validate_upload_id(upload_id)
        try:
            with self.db.session() as session:
                row = session.get(PluginVersion, upload_id)
                if row is None:
                    raise UploadNotFound(f"no plugin version has upload id {upload_id}")
                digests = (row.manifest_sha256, row.component_sha256, row.bundle_sha256)
                filename = row.component_filename
                namespace = row.plugin.namespace.name
                signers = trusted_signers(session, namespace)
            manifest, component = (self._blob(d, upload_id) for d in digests[:2])
            bundle = self._blob(digests[2], upload_id) if digests[2] else None
        except (DatabaseUnavailable, SQLAlchemyError) as exc:
            raise StoreUnavailable(f"the registry database is unavailable: {exc}") from exc
        return VerificationJob(
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
        except StorageUnavailable as exc:
            raise StoreUnavailable(f"the blob store is unavailable: {exc}") from exc
        except BlobNotFound:
            raise UploadUnreadable(
                f"upload {upload_id} refers to blob {digest}, which the store does not have"
            ) from None


class RegistryVerdictSink:
    """Verdicts land on the version row, once, with the lifecycle's events."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def recorded_verdict(self, upload_id: str) -> Verdict | None:
        with self._session() as session:
            row = session.get(PluginVersion, validate_upload_id(upload_id))
            if row is None or row.report is None:
                return None
            return "approved" if row.status in ("approved", "yanked") else "rejected"

    def mark_verifying(self, upload_id: str) -> None:
        with self._session() as session:
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
        with self._session() as session:
            return record_verdict(
                session, validate_upload_id(upload_id), report.to_json().decode(), report.verdict
            )

    @contextmanager
    def _session(self) -> Iterator[Session]:
        """A session whose connection failures read as the verifier's StoreUnavailable."""
        try:
            with self.db.session() as session:
                yield session
        except (DatabaseUnavailable, SQLAlchemyError) as exc:
            raise StoreUnavailable(f"the registry database is unavailable: {exc}") from exc

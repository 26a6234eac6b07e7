"""The registry's tables. Constraints do the integrity work: unique names, one row per
(plugin, version) for ever (versions are never deleted, so a number is never reused), and a
CHECK on the lifecycle states."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

STATUSES = ("pending", "verifying", "approved", "rejected", "yanked")
JOB_STATES = ("queued", "sent", "done")


def new_id() -> str:
    return uuid.uuid4().hex


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {  # noqa: RUF012 - SQLAlchemy reads this class attribute
        dict[str, Any]: JSON,
        list[str]: JSON,
        datetime: DateTime(timezone=True),
    }


class Publisher(Base):
    __tablename__ = "publishers"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    disabled: Mapped[bool] = mapped_column(default=False)


class Namespace(Base):
    __tablename__ = "namespaces"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    owner_id: Mapped[str] = mapped_column(ForeignKey("publishers.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    owner: Mapped[Publisher] = relationship()
    signers: Mapped[list[TrustedSigner]] = relationship(
        back_populates="namespace", cascade="all, delete-orphan", order_by="TrustedSigner.identity"
    )


class TrustedSigner(Base):
    __tablename__ = "trusted_signers"
    __table_args__ = (UniqueConstraint("namespace_id", "identity", "issuer"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    namespace_id: Mapped[str] = mapped_column(ForeignKey("namespaces.id", ondelete="CASCADE"))
    identity: Mapped[str] = mapped_column(String(512))
    issuer: Mapped[str] = mapped_column(String(512))

    namespace: Mapped[Namespace] = relationship(back_populates="signers")


class ApiToken(Base):
    """A token is stored as its lookup id and the SHA-256 of its secret, never in clear."""

    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    lookup_id: Mapped[str] = mapped_column(String(16), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    publisher_id: Mapped[str] = mapped_column(ForeignKey("publishers.id"))
    namespaces: Mapped[list[str]] = mapped_column()
    description: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)

    publisher: Mapped[Publisher] = relationship()


class Plugin(Base):
    __tablename__ = "plugins"
    __table_args__ = (UniqueConstraint("namespace_id", "name"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    namespace_id: Mapped[str] = mapped_column(ForeignKey("namespaces.id"))
    name: Mapped[str] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    namespace: Mapped[Namespace] = relationship()
    versions: Mapped[list[PluginVersion]] = relationship(back_populates="plugin")

    @property
    def full_name(self) -> str:
        return f"{self.namespace.name}/{self.name}"


class PluginVersion(Base):
    """One uploaded version; its id is the upload id the verifier is given."""

    __tablename__ = "plugin_versions"
    __table_args__ = (
        UniqueConstraint("plugin_id", "version"),
        CheckConstraint(
            "status IN ('pending', 'verifying', 'approved', 'rejected', 'yanked')",
            name="plugin_version_status",
        ),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    plugin_id: Mapped[str] = mapped_column(ForeignKey("plugins.id"))
    version: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    component_filename: Mapped[str] = mapped_column(String(128))
    component_sha256: Mapped[str] = mapped_column(String(64))
    component_size: Mapped[int] = mapped_column()
    manifest_sha256: Mapped[str] = mapped_column(String(64))
    manifest_size: Mapped[int] = mapped_column()
    bundle_sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    bundle_size: Mapped[int | None] = mapped_column(default=None)
    manifest: Mapped[dict[str, Any]] = mapped_column()
    report: Mapped[str | None] = mapped_column(Text, default=None)
    """The verification report, as the verifier's stable JSON."""
    verdict_at: Mapped[datetime | None] = mapped_column(default=None)
    yanked_reason: Mapped[str | None] = mapped_column(String(500), default=None)
    published_by_id: Mapped[str] = mapped_column(ForeignKey("publishers.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    plugin: Mapped[Plugin] = relationship(back_populates="versions")
    published_by: Mapped[Publisher] = relationship()


class StatusEvent(Base):
    """Every lifecycle transition, with who or what caused it."""

    __tablename__ = "status_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    version_id: Mapped[str] = mapped_column(ForeignKey("plugin_versions.id"), index=True)
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(128))
    reason: Mapped[str] = mapped_column(String(500), default="")
    at: Mapped[datetime] = mapped_column(default=utcnow)


class VerificationJob(Base):
    """The outbox: a job is committed with its version and sent to the broker afterwards."""

    __tablename__ = "verification_jobs"
    __table_args__ = (
        CheckConstraint("state IN ('queued', 'sent', 'done')", name="verification_job_state"),
    )

    version_id: Mapped[str] = mapped_column(ForeignKey("plugin_versions.id"), primary_key=True)
    state: Mapped[str] = mapped_column(String(8), default="queued", index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(String(500), default=None)
    enqueued_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(default=None)

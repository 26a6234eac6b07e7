"""The registry's tables. Constraints do the integrity work:

* names (publishers, namespaces, plugins) are unique and lowercase ``[a-z0-9-]`` (a CHECK);
* a namespace has exactly one owning publisher; a publisher may own several namespaces;
* ``(plugin, version)`` is unique, and :class:`VersionTombstone` — written when a version
  number is claimed, before the upload's files are stored — keeps a version number (without
  build metadata) from being reused, even after its row is gone;
* the lifecycle states, job states and event actors are CHECKed, and a version can only be
  approved, rejected or yanked once it has a verdict (a report and ``verdict_at``);
* an API token's secret is stored only as its SHA-256 (64 hex digits, a CHECK).

Primary keys are UUID hex strings (portable across SQLite and PostgreSQL, unguessable in URLs
and logs); append-only logs use integers. Times are timezone-aware UTC on both databases.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Connection,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    event,
    insert,
    literal,
    select,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, Mapper, mapped_column, relationship

from client.manifest import without_build_metadata


class VersionStatus(StrEnum):
    """Lifecycle states of a plugin version (transitions: :mod:`registry.db.lifecycle`)."""

    PENDING = "pending"
    VERIFYING = "verifying"
    APPROVED = "approved"
    REJECTED = "rejected"
    YANKED = "yanked"


class JobState(StrEnum):
    """Outbox states: committed, handed to the broker, verdict recorded."""

    QUEUED = "queued"
    SENT = "sent"
    DONE = "done"


STATUSES = tuple(VersionStatus)
JOB_STATES = tuple(JobState)
DOWNLOADABLE = frozenset({VersionStatus.APPROVED, VersionStatus.YANKED})
"""Statuses whose files may be downloaded (yanked: by an exact pin only)."""
NAME_MAX_LENGTH = 64
NAME_REGEX = r"^[a-z0-9]([a-z0-9-]{0,62}[a-z0-9])?$"
"""Publisher, namespace and plugin names: the manifest's ``<namespace>/<name>`` segments."""

# Deterministic constraint names, so later migrations (SQLite batch mode included) can
# address every constraint by name.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def new_id() -> str:
    return uuid.uuid4().hex


def utcnow() -> datetime:
    return datetime.now(UTC)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(str(v)) for v in values)})"


def name_checks(column: str = "name") -> tuple[CheckConstraint, CheckConstraint]:
    """The lowercase name rule as a CHECK: a regular expression on PostgreSQL, GLOBs on SQLite
    (which has no regular expressions); exactly one of the two is created."""
    return (
        CheckConstraint(f"{column} ~ '{NAME_REGEX}'", name=f"{column}_pattern").ddl_if(
            dialect="postgresql"
        ),
        CheckConstraint(
            f"length({column}) BETWEEN 1 AND {NAME_MAX_LENGTH}"
            f" AND {column} NOT GLOB '*[^a-z0-9-]*'"
            f" AND {column} NOT GLOB '-*' AND {column} NOT GLOB '*-'",
            name=f"{column}_pattern",
        ).ddl_if(dialect="sqlite"),
    )


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC ``datetime`` on both databases (SQLite keeps no zone: it stores
    naive UTC and gets ``tzinfo=UTC`` back). Naive datetimes are refused, not guessed at."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(
                "the registry stores timezone-aware datetimes only; use registry.db.models.utcnow()"
            )
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {  # noqa: RUF012 - SQLAlchemy reads this class attribute
        dict[str, Any]: JSON,
        list[str]: JSON,
        datetime: UtcDateTime,
    }


class Publisher(Base):
    """Someone who publishes plugins: owns namespaces and API tokens."""

    __tablename__ = "publishers"
    __table_args__ = name_checks()

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(NAME_MAX_LENGTH), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    disabled: Mapped[bool] = mapped_column(default=False)


class Namespace(Base):
    """The first half of ``<namespace>/<name>``: owned by one publisher, which may own several."""

    __tablename__ = "namespaces"
    __table_args__ = name_checks()

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(NAME_MAX_LENGTH), unique=True)
    owner_id: Mapped[str] = mapped_column(ForeignKey("publishers.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    owner: Mapped[Publisher] = relationship()
    signers: Mapped[list[TrustedSigner]] = relationship(
        back_populates="namespace", cascade="all, delete-orphan", order_by="TrustedSigner.identity"
    )


class TrustedSigner(Base):
    """A Sigstore identity and OIDC issuer whose signatures a namespace accepts."""

    __tablename__ = "trusted_signers"
    __table_args__ = (UniqueConstraint("namespace_id", "identity", "issuer"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    namespace_id: Mapped[str] = mapped_column(ForeignKey("namespaces.id", ondelete="CASCADE"))
    identity: Mapped[str] = mapped_column(String(512))
    issuer: Mapped[str] = mapped_column(String(512))

    namespace: Mapped[Namespace] = relationship(back_populates="signers")


class ApiToken(Base):
    """A token is stored as its public lookup id and the SHA-256 of its secret, never in clear.

    The secret is 256 bits from ``secrets``: nobody can guess it, so a fast hash loses nothing
    a slow KDF would protect (KDFs defend low-entropy passwords), and a leaked table yields no
    usable token. ``namespaces`` is the scope: the namespaces it may publish to.
    """

    __tablename__ = "api_tokens"
    __table_args__ = (CheckConstraint("length(secret_hash) = 64", name="secret_hash_is_sha256"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    lookup_id: Mapped[str] = mapped_column(String(16), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    publisher_id: Mapped[str] = mapped_column(ForeignKey("publishers.id"), index=True)
    namespaces: Mapped[list[str]] = mapped_column()
    description: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)
    parent_id: Mapped[str | None] = mapped_column(
        ForeignKey("api_tokens.id"), default=None, index=True
    )
    """The token that created this one (``None``: an admin did). A token may create only
    tokens for some of its own namespaces, expiring no later than itself, and revoking it
    revokes them."""

    publisher: Mapped[Publisher] = relationship()


class Plugin(Base):
    """``<namespace>/<name>``: a series of versions."""

    __tablename__ = "plugins"
    __table_args__ = (UniqueConstraint("namespace_id", "name"), *name_checks())

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    namespace_id: Mapped[str] = mapped_column(ForeignKey("namespaces.id"))
    name: Mapped[str] = mapped_column(String(NAME_MAX_LENGTH))
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    namespace: Mapped[Namespace] = relationship()
    versions: Mapped[list[PluginVersion]] = relationship(
        back_populates="plugin", cascade="all, delete-orphan", passive_deletes=True
    )

    @property
    def full_name(self) -> str:
        return f"{self.namespace.name}/{self.name}"


class PluginVersion(Base):
    """One uploaded version; its id is the upload id the verifier is given.

    ``report`` is the verifier's JSON exactly as it produced it (served byte for byte at
    ``…/report``), so it is text rather than a JSON column.
    """

    __tablename__ = "plugin_versions"
    __table_args__ = (
        UniqueConstraint("plugin_id", "version"),
        # GET /blobs/sha256/{hex} looks a digest up in each of these.
        Index("ix_plugin_versions_component_sha256", "component_sha256"),
        Index("ix_plugin_versions_manifest_sha256", "manifest_sha256"),
        Index("ix_plugin_versions_bundle_sha256", "bundle_sha256"),
        CheckConstraint(_in("status", STATUSES), name="status"),
        CheckConstraint(
            "status IN ('pending', 'verifying') OR verdict_at IS NOT NULL",
            name="verdict_before_approval",
        ),
        CheckConstraint(
            "(report IS NULL AND verdict_at IS NULL)"
            " OR (report IS NOT NULL AND verdict_at IS NOT NULL)",
            name="report_with_verdict",
        ),
        CheckConstraint(
            "component_size >= 0 AND manifest_size >= 0"
            " AND (bundle_size IS NULL OR bundle_size >= 0)",
            name="sizes",
        ),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    plugin_id: Mapped[str] = mapped_column(ForeignKey("plugins.id", ondelete="CASCADE"))
    version: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16), default=VersionStatus.PENDING)
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
    events: Mapped[list[StatusEvent]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True, order_by="StatusEvent.id"
    )
    job: Mapped[VerificationJob | None] = relationship(
        cascade="all, delete-orphan", passive_deletes=True
    )


class VersionTombstone(Base):
    """``namespace/name version`` was claimed once, so that number is spent for ever.

    ``version`` is the number without build metadata: ``1.0.9+a`` and ``1.0.9+b`` have the
    same precedence, so the second is refused. A publish claims the number (with the id its
    version row will have, ``claimed_by``) before it stores any file, so racing publishes of
    one version write nothing but the winner's; a claim whose files could not be stored is
    released. Otherwise rows are never deleted (names, not foreign keys, so a tombstone
    outlives the version, its plugin and its namespace).
    """

    __tablename__ = "version_tombstones"

    namespace: Mapped[str] = mapped_column(String(NAME_MAX_LENGTH), primary_key=True)
    plugin: Mapped[str] = mapped_column(String(NAME_MAX_LENGTH), primary_key=True)
    version: Mapped[str] = mapped_column(String(128), primary_key=True)
    first_published_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_by: Mapped[str | None] = mapped_column(String(32), default=None)
    """The id of the version row that claimed the number (``None`` before claims existed)."""


@event.listens_for(PluginVersion, "after_insert")
def _spend_version_number(_mapper: Mapper[Any], connection: Connection, target: Any) -> None:
    """Every ORM insert of a version spends its number: the tombstone its publish claimed for
    it, or a new one. A number spent by anything else fails the flush with an
    ``IntegrityError``, as a duplicate ``(plugin, version)`` does."""
    version: PluginVersion = target
    number = without_build_metadata(version.version)
    claimed = (
        select(VersionTombstone.version)
        .join(Namespace, Namespace.name == VersionTombstone.namespace)
        .join(
            Plugin, (Plugin.namespace_id == Namespace.id) & (Plugin.name == VersionTombstone.plugin)
        )
        .where(
            Plugin.id == version.plugin_id,
            VersionTombstone.version == number,
            VersionTombstone.claimed_by == version.id,
        )
    )
    connection.execute(
        insert(VersionTombstone).from_select(
            ["namespace", "plugin", "version", "first_published_at", "claimed_by"],
            select(
                Namespace.name,
                Plugin.name,
                literal(number, String(128)),
                literal(utcnow(), UtcDateTime()),
                literal(version.id, String(32)),
            )
            .join(Namespace, Plugin.namespace_id == Namespace.id)
            .where(Plugin.id == version.plugin_id, ~claimed.exists()),
        )
    )


class StatusEvent(Base):
    """Every lifecycle transition, with who or what caused it: ``publisher:<name>``,
    ``verifier`` or ``admin:<name>``. ``from_status`` is null for the version's first event."""

    __tablename__ = "status_events"
    __table_args__ = (
        CheckConstraint(
            f"(from_status IS NULL OR {_in('from_status', STATUSES)})"
            f" AND {_in('to_status', STATUSES)}",
            name="statuses",
        ),
        CheckConstraint(
            "actor = 'verifier' OR actor LIKE 'publisher:_%' OR actor LIKE 'admin:_%'",
            name="actor",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    version_id: Mapped[str] = mapped_column(
        ForeignKey("plugin_versions.id", ondelete="CASCADE"), index=True
    )
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(128))
    reason: Mapped[str] = mapped_column(String(500), default="")
    at: Mapped[datetime] = mapped_column(default=utcnow)


class VerificationJob(Base):
    """The outbox: a job is committed with its version and sent to the broker afterwards; a
    sweeper sends again what is still ``queued`` (the broker was down at the time)."""

    __tablename__ = "verification_jobs"
    __table_args__ = (
        CheckConstraint(_in("state", JOB_STATES), name="state"),
        CheckConstraint("attempts >= 0", name="attempts"),
        Index("ix_verification_jobs_state_enqueued_at", "state", "enqueued_at"),
    )

    version_id: Mapped[str] = mapped_column(
        ForeignKey("plugin_versions.id", ondelete="CASCADE"), primary_key=True
    )
    state: Mapped[str] = mapped_column(String(8), default=JobState.QUEUED)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(String(500), default=None)
    enqueued_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(default=None)


class SignerRequest(Base):
    """A namespace owner's request to change who may sign its plugins
    (``PUT /api/v1/namespaces/{ns}/signers``). Nothing changes until an admin signs it into
    the TUF targets metadata with the offline key (``clawft-registry admin sign-signers``),
    which also makes it the verifier's list: devices and verifier always agree."""

    __tablename__ = "signer_requests"

    namespace_id: Mapped[str] = mapped_column(
        ForeignKey("namespaces.id", ondelete="CASCADE"), primary_key=True
    )
    signers: Mapped[list[dict[str, str]]] = mapped_column(JSON)
    requested_by: Mapped[str] = mapped_column(String(128))
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)

    namespace: Mapped[Namespace] = relationship()


class TufMetadata(Base):
    """Every version of every role of the registry's TUF repository (root, targets, snapshot,
    timestamp and the hash bins), exactly as signed: served byte for byte, never rewritten."""

    __tablename__ = "tuf_metadata"
    __table_args__ = (CheckConstraint("version >= 1", name="version"),)

    role: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(primary_key=True)
    body: Mapped[bytes] = mapped_column(LargeBinary)
    expires_at: Mapped[datetime] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TufTarget(Base):
    """A file devices fetch through TUF: its path, the role that lists it (a hash bin, or
    ``targets`` for the signer policies the offline key signs), its length, sha256 and the
    custom metadata devices read. Plugin files are served from the blob store by digest; the
    documents the registry writes itself (indexes, policies) are kept here in ``content``.

    ``dirty`` marks rows changed since their bin was last signed (``bin`` is null until the
    first signing puts the path in its bin); ``removed`` rows leave their bin at its next
    signing. The publish task re-signs exactly the bins of dirty rows.
    """

    __tablename__ = "tuf_targets"
    __table_args__ = (
        CheckConstraint("length >= 0", name="length"),
        CheckConstraint("length(sha256) = 64", name="sha256"),
        Index("ix_tuf_targets_dirty_bin", "dirty", "bin"),
    )

    path: Mapped[str] = mapped_column(String(512), primary_key=True)
    bin: Mapped[str | None] = mapped_column(String(32), index=True, default=None)
    length: Mapped[int] = mapped_column()
    sha256: Mapped[str] = mapped_column(String(64))
    custom: Mapped[dict[str, Any]] = mapped_column()
    content: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    dirty: Mapped[bool] = mapped_column(default=True)
    removed: Mapped[bool] = mapped_column(default=False)
    revision: Mapped[int] = mapped_column(default=1)
    """Bumped by every change: the publish task marks a row clean only at the revision it
    signed, so a change that lands while it signs waits for the next run."""
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class TufPublishLock(Base):
    """One row; whoever signs the repository's metadata updates it first, so one publisher
    signs at a time (a row lock on PostgreSQL, the write lock on SQLite)."""

    __tablename__ = "tuf_publish_lock"
    __table_args__ = (CheckConstraint("id = 1", name="one_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, default=1)
    publishes: Mapped[int] = mapped_column(default=0)


class DownloadCount(Base):
    """How often a version's component was downloaded. Never written per download: each HTTP
    process counts in memory and adds its counts here in one batched write every few seconds
    (:mod:`registry.domain.plugins.download_counts`)."""

    __tablename__ = "download_counts"
    __table_args__ = (CheckConstraint("downloads >= 0", name="downloads"),)

    version_id: Mapped[str] = mapped_column(
        ForeignKey("plugin_versions.id", ondelete="CASCADE"), primary_key=True
    )
    downloads: Mapped[int] = mapped_column(default=0)

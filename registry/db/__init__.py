"""The registry's metadata database: SQLAlchemy 2 models, the lifecycle, Alembic migrations."""

from registry.db.lifecycle import IllegalTransition, VersionNotFound, record_verdict, transition
from registry.db.migrate import SchemaOutOfDate, check_at_head, current_revision, upgrade
from registry.db.models import (
    ApiToken,
    Base,
    Namespace,
    Plugin,
    PluginVersion,
    Publisher,
    SignerRequest,
    StatusEvent,
    TrustedSigner,
    TufMetadata,
    TufPublishLock,
    TufTarget,
    VerificationJob,
    VersionTombstone,
)
from registry.db.session import (
    Database,
    DatabaseUnavailable,
    check,
    create_engine_for,
    session_factory,
)
from registry.db.settings import DatabaseSettings

__all__ = [
    "ApiToken",
    "Base",
    "Database",
    "DatabaseSettings",
    "DatabaseUnavailable",
    "IllegalTransition",
    "Namespace",
    "Plugin",
    "PluginVersion",
    "Publisher",
    "SchemaOutOfDate",
    "SignerRequest",
    "StatusEvent",
    "TrustedSigner",
    "TufMetadata",
    "TufPublishLock",
    "TufTarget",
    "VerificationJob",
    "VersionNotFound",
    "VersionTombstone",
    "check",
    "check_at_head",
    "create_engine_for",
    "current_revision",
    "record_verdict",
    "session_factory",
    "transition",
    "upgrade",
]

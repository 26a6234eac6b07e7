"""The registry's metadata database: SQLAlchemy 2 models, the lifecycle, Alembic migrations."""

from registry.db.lifecycle import IllegalTransition, record_verdict, transition
from registry.db.models import (
    ApiToken,
    Base,
    Namespace,
    Plugin,
    PluginVersion,
    Publisher,
    StatusEvent,
    TrustedSigner,
    VerificationJob,
)
from registry.db.session import Database, DatabaseUnavailable
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
    "StatusEvent",
    "TrustedSigner",
    "VerificationJob",
    "record_verdict",
    "transition",
]

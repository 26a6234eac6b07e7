"""The initial schema: publishers, namespaces, trusted signers, API tokens, plugins, their
versions, version tombstones, status events and the verification outbox.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


# The name rule as in registry.db.models (copied: a migration is frozen in time).
NAME_REGEX = r"^[a-z0-9]([a-z0-9-]{0,62}[a-z0-9])?$"


def _name_pattern(table: str) -> sa.CheckConstraint:
    """Lowercase ``[a-z0-9-]`` names: a regular expression on PostgreSQL, GLOBs on SQLite."""
    if op.get_bind().dialect.name == "postgresql":
        rule = f"name ~ '{NAME_REGEX}'"
    else:
        rule = (
            "length(name) BETWEEN 1 AND 64 AND name NOT GLOB '*[^a-z0-9-]*'"
            " AND name NOT GLOB '-*' AND name NOT GLOB '*-'"
        )
    return sa.CheckConstraint(rule, name=op.f(f"ck_{table}_name_pattern"))


def upgrade() -> None:
    op.create_table(
        "publishers",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        _name_pattern("publishers"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_publishers")),
        sa.UniqueConstraint("name", name=op.f("uq_publishers_name")),
    )
    op.create_table(
        "version_tombstones",
        sa.Column("namespace", sa.String(length=64), nullable=False),
        sa.Column("plugin", sa.String(length=64), nullable=False),
        sa.Column("version", sa.String(length=128), nullable=False),
        sa.Column("first_published_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint(
            "namespace", "plugin", "version", name=op.f("pk_version_tombstones")
        ),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("lookup_id", sa.String(length=16), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("publisher_id", sa.String(length=32), nullable=False),
        sa.Column("namespaces", sa.JSON(), nullable=False),
        sa.Column("description", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "length(secret_hash) = 64", name=op.f("ck_api_tokens_secret_hash_is_sha256")
        ),
        sa.ForeignKeyConstraint(
            ["publisher_id"], ["publishers.id"], name=op.f("fk_api_tokens_publisher_id_publishers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("lookup_id", name=op.f("uq_api_tokens_lookup_id")),
    )
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_api_tokens_publisher_id"), ["publisher_id"], unique=False
        )

    op.create_table(
        "namespaces",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("owner_id", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        _name_pattern("namespaces"),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["publishers.id"], name=op.f("fk_namespaces_owner_id_publishers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_namespaces")),
        sa.UniqueConstraint("name", name=op.f("uq_namespaces_name")),
    )
    with op.batch_alter_table("namespaces", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_namespaces_owner_id"), ["owner_id"], unique=False)

    op.create_table(
        "plugins",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("namespace_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        _name_pattern("plugins"),
        sa.ForeignKeyConstraint(
            ["namespace_id"], ["namespaces.id"], name=op.f("fk_plugins_namespace_id_namespaces")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plugins")),
        sa.UniqueConstraint("namespace_id", "name", name=op.f("uq_plugins_namespace_id_name")),
    )
    op.create_table(
        "trusted_signers",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("namespace_id", sa.String(length=32), nullable=False),
        sa.Column("identity", sa.String(length=512), nullable=False),
        sa.Column("issuer", sa.String(length=512), nullable=False),
        sa.ForeignKeyConstraint(
            ["namespace_id"],
            ["namespaces.id"],
            name=op.f("fk_trusted_signers_namespace_id_namespaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trusted_signers")),
        sa.UniqueConstraint(
            "namespace_id",
            "identity",
            "issuer",
            name=op.f("uq_trusted_signers_namespace_id_identity_issuer"),
        ),
    )
    op.create_table(
        "plugin_versions",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("plugin_id", sa.String(length=32), nullable=False),
        sa.Column("version", sa.String(length=128), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("component_filename", sa.String(length=128), nullable=False),
        sa.Column("component_sha256", sa.String(length=64), nullable=False),
        sa.Column("component_size", sa.Integer(), nullable=False),
        sa.Column("manifest_sha256", sa.String(length=64), nullable=False),
        sa.Column("manifest_size", sa.Integer(), nullable=False),
        sa.Column("bundle_sha256", sa.String(length=64), nullable=True),
        sa.Column("bundle_size", sa.Integer(), nullable=True),
        sa.Column("manifest", sa.JSON(), nullable=False),
        sa.Column("report", sa.Text(), nullable=True),
        sa.Column("verdict_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("yanked_reason", sa.String(length=500), nullable=True),
        sa.Column("published_by_id", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('pending', 'verifying') OR verdict_at IS NOT NULL",
            name=op.f("ck_plugin_versions_verdict_before_approval"),
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'verifying', 'approved', 'rejected', 'yanked')",
            name=op.f("ck_plugin_versions_status"),
        ),
        sa.CheckConstraint(
            "(report IS NULL AND verdict_at IS NULL)"
            " OR (report IS NOT NULL AND verdict_at IS NOT NULL)",
            name=op.f("ck_plugin_versions_report_with_verdict"),
        ),
        sa.CheckConstraint(
            "component_size >= 0 AND manifest_size >= 0"
            " AND (bundle_size IS NULL OR bundle_size >= 0)",
            name=op.f("ck_plugin_versions_sizes"),
        ),
        sa.ForeignKeyConstraint(
            ["plugin_id"],
            ["plugins.id"],
            name=op.f("fk_plugin_versions_plugin_id_plugins"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["published_by_id"],
            ["publishers.id"],
            name=op.f("fk_plugin_versions_published_by_id_publishers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plugin_versions")),
        sa.UniqueConstraint(
            "plugin_id", "version", name=op.f("uq_plugin_versions_plugin_id_version")
        ),
    )
    op.create_table(
        "status_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("version_id", sa.String(length=32), nullable=False),
        sa.Column("from_status", sa.String(length=16), nullable=True),
        sa.Column("to_status", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(from_status IS NULL"
            " OR from_status IN ('pending', 'verifying', 'approved', 'rejected', 'yanked'))"
            " AND to_status IN ('pending', 'verifying', 'approved', 'rejected', 'yanked')",
            name=op.f("ck_status_events_statuses"),
        ),
        sa.CheckConstraint(
            "actor = 'verifier' OR actor LIKE 'publisher:_%' OR actor LIKE 'admin:_%'",
            name=op.f("ck_status_events_actor"),
        ),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["plugin_versions.id"],
            name=op.f("fk_status_events_version_id_plugin_versions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_status_events")),
    )
    with op.batch_alter_table("status_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_status_events_version_id"), ["version_id"], unique=False
        )

    op.create_table(
        "verification_jobs",
        sa.Column("version_id", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=8), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("enqueued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "state IN ('queued', 'sent', 'done')", name=op.f("ck_verification_jobs_state")
        ),
        sa.CheckConstraint("attempts >= 0", name=op.f("ck_verification_jobs_attempts")),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["plugin_versions.id"],
            name=op.f("fk_verification_jobs_version_id_plugin_versions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("version_id", name=op.f("pk_verification_jobs")),
    )
    with op.batch_alter_table("verification_jobs", schema=None) as batch_op:
        batch_op.create_index(
            "ix_verification_jobs_state_enqueued_at", ["state", "enqueued_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("verification_jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_verification_jobs_state_enqueued_at")

    op.drop_table("verification_jobs")
    with op.batch_alter_table("status_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_status_events_version_id"))

    op.drop_table("status_events")
    op.drop_table("plugin_versions")
    op.drop_table("trusted_signers")
    op.drop_table("plugins")
    with op.batch_alter_table("namespaces", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_namespaces_owner_id"))

    op.drop_table("namespaces")
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_tokens_publisher_id"))

    op.drop_table("api_tokens")
    op.drop_table("version_tombstones")
    op.drop_table("publishers")

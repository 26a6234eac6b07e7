"""The TUF repository of approved plugins: every signed version of every role's metadata, the
target files the hash bins list, the row a publisher locks while it signs, and the signer
changes that wait for an admin's offline signature.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tuf_metadata",
        sa.Column("role", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("version >= 1", name=op.f("ck_tuf_metadata_version")),
        sa.PrimaryKeyConstraint("role", "version", name=op.f("pk_tuf_metadata")),
    )
    op.create_table(
        "tuf_targets",
        sa.Column("path", sa.String(length=512), nullable=False),
        sa.Column("bin", sa.String(length=32), nullable=True),
        sa.Column("length", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("custom", sa.JSON(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=True),
        sa.Column("dirty", sa.Boolean(), nullable=False),
        sa.Column("removed", sa.Boolean(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("length >= 0", name=op.f("ck_tuf_targets_length")),
        sa.CheckConstraint("length(sha256) = 64", name=op.f("ck_tuf_targets_sha256")),
        sa.PrimaryKeyConstraint("path", name=op.f("pk_tuf_targets")),
    )
    op.create_index(op.f("ix_tuf_targets_bin"), "tuf_targets", ["bin"], unique=False)
    op.create_index("ix_tuf_targets_dirty_bin", "tuf_targets", ["dirty", "bin"], unique=False)
    lock = op.create_table(
        "tuf_publish_lock",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("publishes", sa.Integer(), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_tuf_publish_lock_one_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tuf_publish_lock")),
    )
    op.bulk_insert(lock, [{"id": 1, "publishes": 0}])
    op.create_table(
        "signer_requests",
        sa.Column("namespace_id", sa.String(length=32), nullable=False),
        sa.Column("signers", sa.JSON(), nullable=False),
        sa.Column("requested_by", sa.String(length=128), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["namespace_id"],
            ["namespaces.id"],
            name=op.f("fk_signer_requests_namespace_id_namespaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("namespace_id", name=op.f("pk_signer_requests")),
    )


def downgrade() -> None:
    op.drop_table("signer_requests")
    op.drop_table("tuf_publish_lock")
    op.drop_index("ix_tuf_targets_dirty_bin", table_name="tuf_targets")
    op.drop_index(op.f("ix_tuf_targets_bin"), table_name="tuf_targets")
    op.drop_table("tuf_targets")
    op.drop_table("tuf_metadata")
